// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Recovery keys for the user: shown once on the terminal (with a QR code) or
 * written to a new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "luks.h"
#include "recovery.h"
#include "recovery-key.h"

int recovery_out_open(struct recovery_out *out, const char *file)
{
	out->file = file;
	out->fd = -1;
	out->created = false;
	if (!file) {
		if (isatty(STDOUT_FILENO))
			return 0;
		fprintf(stderr, "oyster enroll: the recovery key is shown only on a terminal and "
				"stdout is not one; run at a terminal, or give --recovery-key-file "
				"FILE ('-' for stdout).\n");
		return -ENOTTY;
	}
	if (!strcmp(file, "-")) {
		out->fd = STDOUT_FILENO;
		return 0;
	}
	out->fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out->fd < 0) {
		int r = -errno;

		fprintf(stderr, "Cannot create the recovery key file %s: %s%s.\n", file,
			strerror(errno),
			errno == EEXIST ? " (oyster never overwrites one: choose a new name)" : "");
		return r;
	}
	/* 0600 whatever the umask said. */
	(void)fchmod(out->fd, 0600);
	out->created = true;
	return 0;
}

void recovery_out_close(struct recovery_out *out, bool failed)
{
	if (out->fd > STDERR_FILENO)
		close(out->fd);
	if (failed && out->created)
		unlink(out->file);
	out->fd = -1;
	out->created = false;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line through a stack buffer that is wiped after: the lines carry the key. */
static int __attribute__((format(printf, 2, 3))) put_line(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r = n < 0 || (size_t)n >= sizeof(buf) ? -ENOBUFS : write_all(fd, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* The QR code's modules; quiet zone of 4 modules. */
#define QR_MARGIN 4

static bool qr_dark(const QRcode *qr, int x, int y)
{
	x -= QR_MARGIN;
	y -= QR_MARGIN;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return qr->data[y * qr->width + x] & 1;
}

/*
 * Two rows of modules per line of text, light modules drawn as blocks in
 * white on black (set explicitly, so that light and dark terminals alike
 * show dark modules dark).
 */
static int show_qr(int fd, const struct secret *key)
{
	static const char *const cell[4] = { " ", "\u2584", "\u2580", "\u2588" };
	char line[1024];
	QRcode *qr;
	int size, r = 0;

	qr = QRcode_encodeString((const char *)key->data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		return errno ? -errno : -ENOMEM;
	size = qr->width + 2 * QR_MARGIN;
	for (int y = 0; y < size && r == 0; y += 2) {
		size_t o = 0;

		o += (size_t)snprintf(line, sizeof(line), "\033[37;40m");
		for (int x = 0; x < size; x++) {
			int c = (!qr_dark(qr, x, y) ? 2 : 0) |
				(y + 1 >= size || !qr_dark(qr, x, y + 1) ? 1 : 0);

			if (y + 1 >= size)
				c &= 2; /* below the code: the terminal's own background */
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s", cell[c]);
		}
		snprintf(line + o, sizeof(line) - o, "\033[0m\n");
		r = write_all(fd, line, strlen(line));
	}
	explicit_bzero(line, sizeof(line));
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return r;
}

static int show_key(struct recovery_out *out, const char *device, int keyslot,
		    const struct secret *key)
{
	int fd = out->fd < 0 ? STDOUT_FILENO : out->fd;
	int r;

	fflush(stdout);
	if (out->file) {
		r = put_line(fd, "%s\n", (const char *)key->data);
		if (r == 0 && out->fd != STDOUT_FILENO && fsync(fd) < 0)
			r = -errno;
		if (r < 0)
			fprintf(stderr, "Cannot write the recovery key to %s: %s.\n",
				strcmp(out->file, "-") ? out->file : "stdout", strerror(-r));
		else if (strcmp(out->file, "-"))
			printf("Wrote the recovery key of %s (keyslot %d) to %s.\n", device,
			       keyslot, out->file);
		return r;
	}
	r = put_line(
		fd,
		"Recovery key of %s (keyslot %d), shown this once and stored nowhere:\n\n"
		"    %s\n\n"
		"Write it down or scan the code below, and keep it away from the machine.\n"
		"It opens the volume wherever its passphrase is asked for, with or without the "
		"dashes.\n\n",
		device, keyslot, (const char *)key->data);
	if (r == 0)
		r = show_qr(fd, key);
	if (r < 0)
		fprintf(stderr, "Cannot show the recovery key on the terminal: %s.\n",
			strerror(-r));
	return r;
}

int recovery_enroll(struct crypt_device *cd, const char *device, const struct secret *vk,
		    struct recovery_out *out)
{
	struct secret *key = NULL;
	int keyslot = -1, id = -1, r;

	r = recovery_key_generate(&key);
	if (r < 0)
		goto out;
	r = luks_keyslot_free(cd);
	if (r < 0)
		goto out;
	r = luks_keyslot_add(cd, r, vk, key);
	if (r < 0)
		goto out;
	keyslot = r;
	r = recovery_token_add(cd, keyslot, time(NULL));
	if (r < 0)
		goto out;
	id = r;
	r = show_key(out, device, keyslot, key);
out:
	secret_free(key);
	if (r < 0) {
		/* A key nobody saw opens nothing anyone has: take it back. */
		if (id >= 0)
			luks_token_remove(cd, id);
		if (keyslot >= 0)
			luks_keyslot_remove(cd, keyslot);
		return r;
	}
	return keyslot;
}
