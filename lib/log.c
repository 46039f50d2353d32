// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The one message sink: the plugin sets crypt_log(), the tool stderr; the core
 * itself never prints.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static __thread oyster_log_fn sink;
static __thread void *sink_data;

void log_set(oyster_log_fn fn, void *data)
{
	sink = fn;
	sink_data = data;
}

void log_msg(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!sink)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sink(level, msg, sink_data);
}
