/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_LOG_H
#define OYSTER_LOG_H

/*
 * The core never prints: the plugin routes messages to crypt_log() and the
 * tool to stderr. The sink is per thread because libcryptsetup may open
 * devices from several threads, each with its own crypt_device.
 */
enum { OYSTER_LOG_ERROR, OYSTER_LOG_INFO, OYSTER_LOG_DEBUG };

typedef void (*oyster_log_fn)(int level, const char *msg, void *data);

void log_set(oyster_log_fn fn, void *data);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(OYSTER_LOG_ERROR, __VA_ARGS__)
#define log_info(...) log_msg(OYSTER_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(OYSTER_LOG_DEBUG, __VA_ARGS__)

#endif
