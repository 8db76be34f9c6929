/* clearml-task — STUB until the clearml-task work lands (owner: CLI helper). */
#include <stdio.h>
int
main(void)
{
	fprintf(stderr, "usage: clearml-task --project P --name N [--script F | --repo URL] [--queue Q]\n"
	                "clearml-task: not available yet\n");
	return 2;
}
