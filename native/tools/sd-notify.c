/*
 * sd-notify MESSAGE: send MESSAGE to $NOTIFY_SOCKET, like systemd-notify. Static, so tests can
 * copy it into a busybox rootfs to check the runtime's NOTIFY_SOCKET relay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	int sock;
	if (argc != 2 || !path || strlen(path) >= sizeof addr.sun_path) {
		fprintf(stderr, "usage: NOTIFY_SOCKET=PATH sd-notify MESSAGE\n");
		return 2;
	}
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sock < 0 || sendto(sock, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
		perror("sd-notify");
		return 1;
	}
	return 0;
}
