/* The built-in profile defaults, profiles/defaults.yaml, as a C string. */
	.section .rodata
	.global appliance_defaults_yaml
	.type appliance_defaults_yaml, @object
appliance_defaults_yaml:
	.incbin "defaults.yaml"
	.byte 0
	.size appliance_defaults_yaml, . - appliance_defaults_yaml
	.section .note.GNU-stack,"",@progbits
