// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libcryptsetup token plugin for oyster-tpm2 tokens: parse the token, ask
 * the core to unseal, map the outcome to the errno values libcryptsetup
 * acts on. It never prints, prompts or exits.
 */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootnote.h"
#include "log.h"
#include "luks.h"
#include "secret.h"
#include "token.h"
#include "unlock.h"

struct plugin_sink {
	struct crypt_device *cd;
	char reason[512]; /* the last error line: why the TPM refused */
};

static void plugin_log(int level, const char *msg, void *data)
{
	struct plugin_sink *sink = data;
	struct crypt_device *cd = sink->cd;
	int cl = level == OYSTER_LOG_ERROR  ? CRYPT_LOG_ERROR
		 : level == OYSTER_LOG_INFO ? CRYPT_LOG_VERBOSE
					    : CRYPT_LOG_DEBUG;
	char line[560];

	/* libcryptsetup prints error lines as they are: say whose they are. */
	snprintf(line, sizeof(line), "%s%s\n", cl == CRYPT_LOG_DEBUG ? "oyster-tpm2: " : "", msg);
	crypt_log(cd, cl, line);
	if (level == OYSTER_LOG_ERROR)
		snprintf(sink->reason, sizeof(sink->reason), "%s", msg);
}

/*
 * libcryptsetup guarantees: cd is the device being opened, token the id of a
 * token whose type is oyster-tpm2, buffer and buffer_len non-NULL. usrptr is
 * unused. pin is NULL when the caller has none.
 */
int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin, size_t pin_size,
			      char **buffer, size_t *buffer_len, void *usrptr)
{
	struct plugin_sink sink = { .cd = cd };
	struct secret *pass = NULL;
	struct token *tok = NULL;
	const char *why = NULL;
	int r;

	log_set(plugin_log, &sink);
	tok = calloc(1, sizeof(*tok));
	if (!tok) {
		r = -ENOMEM;
		goto out;
	}
	/* The tool's reader: the same parse and the same check of the text on disk. */
	r = luks_token_get(cd, token, tok, &why);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		r = -EINVAL;
		goto out;
	}
	if (pin && !tok->pin)
		log_debug("token %d has no PIN; ignoring the one given", token);
	r = unlock_token(tok, pin, pin ? pin_size : 0, &pass);
	switch (r) {
	case 0:
		*buffer = (char *)pass->data;
		*buffer_len = pass->len;
		break;
	case -ENODEV:
		r = -EAGAIN;
		break;
	case -ENOKEY:
	case -EACCES:
		/* Ask for a PIN (again); lockout is -EBUSY, sent to the passphrase below. */
		r = -ENOANO;
		break;
	case -ENOMEM:
		break;
	default:
		/* This token cannot open the volume now: let the next one, then the passphrase,
		 * try. */
		r = -EPERM;
		break;
	}
out:
	/* The console sees why before the passphrase prompt (not for a PIN: asked again). */
	if (r == 0)
		bootnote_unlocked(crypt_get_uuid(cd));
	else if (r != -ENOANO && r != -ENOMEM && r != -EINVAL)
		bootnote_refused(crypt_get_uuid(cd), crypt_get_device_name(cd), sink.reason);
	free(tok);
	log_set(NULL, NULL);
	return r;
}

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
			  void *usrptr)
{
	return cryptsetup_token_open_pin(cd, token, NULL, 0, buffer, buffer_len, usrptr);
}

/* buffer is what open returned, with its length. */
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len)
{
	secret_free(secret_from_data(buffer));
}

/* json is the token's text, of type oyster-tpm2; called on load and on every token write. */
int cryptsetup_token_validate(struct crypt_device *cd, const char *json)
{
	struct token *tok = calloc(1, sizeof(*tok));
	const char *why = NULL;
	int r;

	if (!tok)
		return -ENOMEM;
	r = token_parse(json, tok, &why);
	if (r < 0)
		crypt_logf(cd, CRYPT_LOG_DEBUG, "oyster-tpm2: malformed token: %s",
			   why ? why : "?");
	free(tok);
	return r < 0 ? -EINVAL : 0;
}

static void dump_line(const char *text, void *data)
{
	char line[600];

	snprintf(line, sizeof(line), "%s\n", text);
	crypt_log(data, CRYPT_LOG_NORMAL, line);
}

/* json is the token's text, already validated; output goes through crypt_log. */
void cryptsetup_token_dump(struct crypt_device *cd, const char *json)
{
	struct token *tok = calloc(1, sizeof(*tok));
	const char *why = NULL;

	if (!tok)
		return;
	if (token_parse(json, tok, &why) < 0)
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tmalformed oyster-tpm2 token: %s\n",
			   why ? why : "?");
	else
		token_dump(tok, dump_line, cd);
	free(tok);
}

const char *cryptsetup_token_version(void)
{
	return OYSTER_VERSION;
}
