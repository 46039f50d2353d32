// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * replay-TARGET FILE-OR-DIR...: runs a fuzz target once on each file, for
 * builds without libFuzzer; a broken invariant aborts as under the fuzzer.
 * The checked-in corpus, regressions included, runs this way in every CI build.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path, unsigned *count)
{
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == cap) {
			uint8_t *p = realloc(data, cap ? 2 * cap : 4096);

			if (!p) {
				fclose(f);
				free(data);
				return -1;
			}
			data = p;
			cap = cap ? 2 * cap : 4096;
		}
		n = fread(data + size, 1, cap - size, f);
		if (!n)
			break;
		size += n;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	(*count)++;
	return 0;
}

static int replay(const char *path, unsigned *count)
{
	struct dirent **names;
	struct stat st;
	char sub[4096];
	int n, r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && r == 0) {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			r = replay(sub, count);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++) {
		if (replay(argv[i], &count) < 0)
			return 99;
	}
	printf("%u inputs replayed\n", count);
	return count ? 0 : 99;
}
