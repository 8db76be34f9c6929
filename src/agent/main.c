/* clearml-agent — STUB entry point until the CLI work lands (owner: CLI helper). */
#include <stdio.h>
int
main(void)
{
	fprintf(stderr, "CLEARML-AGENT Deep Learning DevOps\n\nclearml-agent: not available yet\n");
	return 2;
}
