/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_BOOTCONF_H
#define OYSTER_BOOTCONF_H

#include <stdbool.h>

/* Where the boot integrations leave their notes; it survives the switch to the root. */
#define OYSTER_RUNDIR "/run/oyster"

/*
 * The settings of the boot integrations (oyster fence --boot, oyster prune
 * --boot), read in this one place, weakest first: the defaults below,
 * /etc/default/oyster, the initramfs-tools configuration that mkinitramfs
 * copies into an image (/conf/conf.d/oyster), the environment, the kernel
 * command line. Both files hold shell assignments (OYSTER_FENCE=no); the
 * kernel command line says the same as oyster.fence=0 and so on.
 */
struct bootconf {
	bool fence;	    /* OYSTER_FENCE, oyster.fence= (default yes) */
	unsigned fence_pcr; /* OYSTER_FENCE_PCR, oyster.fence_pcr= (default 15) */
	unsigned timeout;   /* OYSTER_TIMEOUT, oyster.timeout=: seconds for the TPM (default 5) */
	bool prune;	    /* OYSTER_PRUNE, oyster.prune= (default yes) */
	bool debug;	    /* OYSTER_DEBUG, oyster.debug */
	char tcti[256];	    /* OYSTER_TCTI, oyster.tcti= ("" leaves the choice to oyster) */
	char devices[1024]; /* OYSTER_DEVICES: volumes crypttab does not name */
	bool auto_repair;   /* OYSTER_AUTO_REPAIR (default no; not on the command line) */
};

/*
 * Reads the settings into *c. In the initramfs (initramfs), the TPM the
 * keyscript used in this boot (/run/oyster/tcti) wins over the configured
 * one. A value that does not parse keeps the weaker one and is said in one
 * line on stderr.
 */
void bootconf_read(struct bootconf *c, bool initramfs);
/*
 * Exports c's TPM settings to this process and the programs it starts
 * (OYSTER_TCTI, OYSTER_TPM_TIMEOUT, OYSTER_DEBUG).
 */
void bootconf_export(const struct bootconf *c);
/*
 * Marks NAME (in /run/oyster) done for this boot. Returns 0 when this call
 * marked it, -EEXIST when it was done already, another negative errno when
 * the mark cannot be written (the caller goes on: better twice than never).
 */
int bootconf_once(const char *name);

#endif
