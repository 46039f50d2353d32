/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_ENROLL_ASK_H
#define OYSTER_ENROLL_ASK_H

#include "secret.h"

/* The prompts: secrets come from a file, stdin, the environment or the terminal, never argv. */

/*
 * The existing passphrase: key_file (exact bytes; "-" is stdin), else
 * $PASSWORD, else a no-echo prompt on the terminal.
 */
int ask_passphrase(const char *key_file, const char *device, struct secret **out);

/* The new PIN: $NEWPIN, else typed twice without echo. */
int ask_new_pin(struct secret **out);
/* The PIN: $PIN, else typed without echo when stdin is a terminal; -ENOKEY when neither. */
int ask_pin(const char *device, struct secret **out);
/*
 * Wipes and removes the variables that carry secrets (PASSWORD, PIN, NEWPIN):
 * in a child, before it runs another program, which would inherit them.
 */
void ask_scrub_environment(void);

#endif
