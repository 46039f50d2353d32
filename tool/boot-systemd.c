// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * crypttab options that make systemd-cryptsetup pass oyster's token by, for
 * `oyster boot-setup` and `oyster status`. From systemd 253 on,
 * systemd-cryptsetup tries no token plugin when it is asked to measure the
 * volume key (tpm2-measure-pcr=, use_token_plugins(): a plugin does not hand
 * the key back), and tpm2-device= sends it to systemd's own TPM2 tokens.
 * 252 ignores tpm2-measure-pcr= ("unknown option") and still unlocks through
 * oyster, so the hazard shows only at the next systemd upgrade.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boot.h"
#include "crypttab.h"
#include "file.h"

/* systemd's reading: a PCR number or a true boolean turns the measurement on. */
static int measure_on(const char *value)
{
	static const char *const off[] = { "no", "false", "off", "n", "f" };

	if (!value[0])
		return 0;
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (!strcasecmp(value, off[i]))
			return 0;
	return 1;
}

void boot_warn_systemd_options(const char *device)
{
	struct crypttab_entry *e = NULL;
	char uuid[OYSTER_UUID_MAX], value[256];
	char *text = NULL;

	if (boot_resolve_uuid(device, uuid, sizeof(uuid), NULL) < 0 ||
	    file_read_text(CRYPTTAB, OYSTER_CONFIG_MAX_SIZE, &text) < 0)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e || crypttab_find(text, uuid, boot_resolve_uuid, NULL, e) < 0)
		goto out;
	if (crypttab_option(e->options, "tpm2-measure-pcr", value, sizeof(value)) == 1 &&
	    measure_on(value))
		fprintf(stderr,
			"Warning: %s line %u (%s) has tpm2-measure-pcr=%s, which makes "
			"systemd-cryptsetup 253 and later skip token plugins and ask for the "
			"passphrase at every boot; remove it: oyster's boot fence (oyster enroll "
			"--fence) measures the volume into PCR 15 instead.\n",
			CRYPTTAB, e->line, e->name, value);
	if (crypttab_option(e->options, "tpm2-device", value, sizeof(value)) == 1)
		fprintf(stderr,
			"Warning: %s line %u (%s) has tpm2-device=%s, which makes "
			"systemd-cryptsetup look only for systemd's own TPM2 tokens, never "
			"oyster's; remove it: oyster's token needs no crypttab option.\n",
			CRYPTTAB, e->line, e->name, value);
out:
	free(e);
	free(text);
}
