/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_PIN_H
#define OYSTER_PIN_H

#include <stddef.h>
#include <stdint.h>

#include "secret.h"
#include "token.h"

#define OYSTER_PIN_SALT_SIZE 16
/* About 40 ms here: nothing at boot, a lot for an offline guesser with a stolen session. */
#define OYSTER_PIN_ITERATIONS 100000

/* The sealed object's authValue for pin: PBKDF2-HMAC-SHA256 with the token's salt and count. */
int pin_auth_value(const struct token *tok, const char *pin, size_t pin_len, struct secret **out);

#endif
