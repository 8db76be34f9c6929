/*
 * files — clearml-server-lite's files server (files_server.c): the ClearML fileserver protocol on
 * its own listener, files under <data dir>/files. Owner: srvcore.
 */
#ifndef CLEARML_SERVER_FILES_H
#define CLEARML_SERVER_FILES_H

#include "server/server.h"

struct files_front;
/* Listen on srv->host:srv->files_port (0: any free port; srv->files_port gets the actual one).
 * NULL on error (logged). */
struct files_front *files_start(struct server *srv);
void files_stop(struct files_front *f);
/* 0 when path (relative to the files root) is acceptable: segments non-empty, not "." or "..",
 * no control characters or backslashes, bounded lengths and depth, no trailing slash. */
int files_path_check(const char *path);

#endif
