/* The key reference (`appliance validate --keys`): every key a profile may
 * have, walked from the schema tables. */
#ifndef APPLIANCE_PROFILE_KEYS_H
#define APPLIANCE_PROFILE_KEYS_H

#include <stdio.h>

/* Every key a profile may have, one per line: "PATH<TAB>TYPE[<TAB>required]
 * [<TAB>default X][<TAB># what it is]" (the default as the compiled-in
 * profiles/defaults.yaml gives it; the description from the schema row). */
void profile_print_keys(FILE *f);

#endif
