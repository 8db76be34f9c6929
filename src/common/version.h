/* One place for the version strings every program prints and sends. */
#ifndef CLEARML_VERSION_H
#define CLEARML_VERSION_H
/* The Python agent release whose CLI, config and wire behaviour we match. */
#define CLEARML_AGENT_VERSION "1.9.2"
/* Our own build of it; printed beside the upstream version where it helps to tell them apart. */
#define CLEARML_C_BUILD "c1"
#define CLEARML_SERVER_LITE_VERSION "2.0.0"
#define CLEARML_SERVER_LITE_API_VERSION "2.31"
#endif
