/* task_create — STUB (owner: CLI helper): builds the tasks.create request for clearml-task. */
#include "util.h"
int task_create_placeholder(void);
int task_create_placeholder(void) { return 0; }
