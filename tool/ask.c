// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Secrets from the user: passphrases and PINs from a file, stdin, the
 * environment or the terminal, never from argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ask.h"
#include "cmd.h"
#include "recovery.h"

/* cryptsetup's own limit for an interactive passphrase is 512 bytes; key files may be larger. */
#define OYSTER_MAX_KEY_FILE (64 * 1024)
#define OYSTER_MAX_TYPED 512

static int read_all(int fd, struct secret *s)
{
	for (;;) {
		ssize_t n;

		if (s->len == s->size) {
			char extra;

			n = read(fd, &extra, 1);
			explicit_bzero(&extra, sizeof(extra));
			return n == 0 ? 0 : -EFBIG;
		}
		n = read(fd, s->data + s->len, s->size - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		s->len += (size_t)n;
	}
}

static int from_file(const char *path, struct secret *s)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	int r;

	if (fd < 0) {
		fprintf(stderr, "Cannot read key file %s: %s.\n", path, strerror(errno));
		return -errno;
	}
	r = read_all(fd, s);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r == -EFBIG)
		fprintf(stderr, "Key file %s is larger than %d bytes.\n", path,
			OYSTER_MAX_KEY_FILE);
	else if (r < 0)
		fprintf(stderr, "Cannot read key file %s: %s.\n", path, strerror(-r));
	return r;
}

static int from_tty(const char *prompt, struct secret *s)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int r = 0;

	if (fd < 0) {
		fprintf(stderr, "No passphrase: give --key-file FILE, set $PASSWORD, or run on a "
				"terminal.\n");
		return -ENOTTY;
	}
	dprintf(fd, "%s", prompt);
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n' || c == '\r')
			break;
		if (s->len == s->size) {
			r = -EFBIG;
			continue;
		}
		s->data[s->len++] = (uint8_t)c;
		explicit_bzero(&c, sizeof(c));
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	close(fd);
	if (r < 0)
		fprintf(stderr, "The passphrase is longer than %d characters.\n", OYSTER_MAX_TYPED);
	return r;
}

/*
 * A secret from key_file (when given), else from $env_name, else typed at
 * the terminal after prompt; NUL-terminated in a locked buffer. what names
 * it in messages.
 */
static int ask_secret(const char *key_file, const char *env_name, const char *prompt,
		      const char *what, struct secret **out)
{
	const char *env = getenv(env_name);
	struct secret *s;
	int r;

	*out = NULL;
	s = secret_new(key_file ? OYSTER_MAX_KEY_FILE : OYSTER_MAX_TYPED);
	if (!s)
		return -ENOMEM;
	if (key_file) {
		r = from_file(key_file, s);
	} else if (env) {
		size_t n = strlen(env);

		r = n > s->size ? -EFBIG : 0;
		if (r == 0) {
			memcpy(s->data, env, n);
			s->len = n;
		} else {
			fprintf(stderr, "$%s is longer than %d characters.\n", env_name,
				OYSTER_MAX_TYPED);
		}
	} else {
		r = from_tty(prompt, s);
	}
	if (r == 0 && s->len == 0) {
		fprintf(stderr, "The %s is empty.\n", what);
		r = -EINVAL;
	}
	if (r < 0) {
		secret_free(s);
		return r;
	}
	s->data[s->len] = '\0';
	*out = s;
	return 0;
}

int ask_passphrase(const char *key_file, const char *device, struct secret **out)
{
	char prompt[512];
	int r;

	snprintf(prompt, sizeof(prompt), "Enter an existing passphrase for %s: ", device);
	r = ask_secret(key_file, "PASSWORD", prompt, "passphrase", out);
	/* A recovery key opens its keyslot in one spelling: take it as typed. */
	if (r == 0)
		recovery_key_normalize(*out);
	return r;
}

static int pin_from(const char *env_name, const char *prompt, struct secret **out)
{
	return ask_secret(NULL, env_name, prompt, "PIN", out);
}

int ask_new_pin(struct secret **out)
{
	struct secret *again = NULL;
	int r;

	r = pin_from("NEWPIN", "Enter a new TPM PIN: ", out);
	if (r < 0 || getenv("NEWPIN"))
		return r;
	r = pin_from("NEWPIN", "Enter the new TPM PIN again: ", &again);
	if (r == 0 &&
	    (again->len != (*out)->len || memcmp(again->data, (*out)->data, again->len))) {
		fprintf(stderr, "The PINs do not match; nothing was changed.\n");
		r = -EINVAL;
	}
	secret_free(again);
	if (r < 0) {
		secret_free(*out);
		*out = NULL;
	}
	return r;
}

int ask_pin(const char *device, struct secret **out)
{
	char prompt[512];

	*out = NULL;
	/* Only a person at a terminal is asked; a keyscript passes $PIN. */
	if (!getenv("PIN") && !isatty(STDIN_FILENO))
		return -ENOKEY;
	snprintf(prompt, sizeof(prompt), "Enter the TPM PIN for %s: ", device);
	return pin_from("PIN", prompt, out);
}

void ask_scrub_environment(void)
{
	static const char *const names[] = { "PASSWORD", "PIN", "NEWPIN" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *value = getenv(names[i]);

		if (value)
			explicit_bzero(value, strlen(value));
		unsetenv(names[i]);
	}
}
