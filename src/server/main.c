/* clearml-server-lite — STUB until the server-lite work lands (owner: server core helper). */
#include <stdio.h>
int
main(void)
{
	fprintf(stderr, "usage: clearml-server-lite [--host H] [--port P] [--data-dir DIR]\n"
	                "clearml-server-lite: not available yet\n");
	return 2;
}
