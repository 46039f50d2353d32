// SPDX-License-Identifier: LGPL-2.1-or-later
/* A PIN turned into the sealed object's authValue (PBKDF2 with the token's salt). */
#include <errno.h>
#include <openssl/evp.h>

#include "log.h"
#include "pin.h"
#include "policy.h"

int pin_auth_value(const struct token *tok, const char *pin, size_t pin_len, struct secret **out)
{
	struct secret *auth;

	*out = NULL;
	if (!tok->pin || !tok->pin_salt_len || pin_len > INT32_MAX)
		return -EINVAL;
	auth = secret_new(OYSTER_POLICY_SIZE);
	if (!auth)
		return -ENOMEM;
	/* The authValue may be at most the nameAlg's digest size: 32 bytes of SHA-256. */
	if (!PKCS5_PBKDF2_HMAC(pin, (int)pin_len, tok->pin_salt, (int)tok->pin_salt_len,
			       (int)tok->pin_iterations, EVP_sha256(), OYSTER_POLICY_SIZE,
			       auth->data)) {
		log_err("PBKDF2 failed in OpenSSL.");
		secret_free(auth);
		return -EIO;
	}
	auth->len = OYSTER_POLICY_SIZE;
	*out = auth;
	return 0;
}
