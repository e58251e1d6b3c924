/* Unix sockets the runtime talks on: a client's --console-socket, and the sd_notify relay. */
#include "shim.h"

/* An AF_UNIX socket of this type, and addr filled in for path: the socket, or -errno. */
static int unix_socket(const char *path, int type, struct sockaddr_un *addr)
{
	int sock;
	if (strlen(path) >= sizeof addr->sun_path)
		return -ENAMETOOLONG;
	sock = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	memset(addr, 0, sizeof *addr);
	addr->sun_family = AF_UNIX;
	strcpy(addr->sun_path, path);
	return sock;
}

/*
 * Hand a pty master to a client's --console-socket the way runc does: connect to the unix
 * stream socket and send the fd with SCM_RIGHTS, its name as the payload.
 */
int tsr_send_console(const char *socket_path, int fd, const char *name)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_STREAM, &addr), rc;
	if (sock < 0)
		return sock;
	if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0)
		rc = -errno;
	else
		rc = send_with_fd(sock, name, strlen(name), fd) < 0 ? -errno : 0;
	close(sock);
	return rc;
}

/* Window size of a terminal (the pty master), as TIOCSWINSZ takes it. */
int tsr_set_winsize(int fd, uint32_t rows, uint32_t cols)
{
	struct winsize ws;
	memset(&ws, 0, sizeof ws);
	ws.ws_row = (unsigned short)rows;
	ws.ws_col = (unsigned short)cols;
	return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}
/*
 * The receiving end of --console-socket, as conmon and containerd's shim implement it: for
 * tests and for library users that want the pty themselves. listen → a listening socket;
 * accept → the fd that arrived on the first connection (blocking: call it off the main thread).
 */
int tsr_console_listen(const char *socket_path)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_STREAM, &addr), rc;
	if (sock < 0)
		return sock;
	if (bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(sock, 1) < 0) {
		rc = -errno;
		close(sock);
		return rc;
	}
	return sock;
}

int tsr_console_accept(int listen_fd)
{
	char name[256];
	int conn, fd = -EBADMSG;

	do
		conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return -errno;
	if (recv_with_fd(conn, name, sizeof name, &fd) < 0)
		fd = -errno;
	close(conn);
	return fd;
}

/*
 * sd_notify relay (NOTIFY_SOCKET), as runc does it: a datagram socket in the container's state
 * directory, bind-mounted into the container, whose READY=1 the runtime passes on to the host's
 * socket.
 */
int tsr_dgram_bind(const char *socket_path)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_DGRAM, &addr), rc;
	if (sock < 0)
		return sock;
	unlink(socket_path);
	if (bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
		rc = -errno;
		close(sock);
		return rc;
	}
	chmod(socket_path, 0777); /* any user in the container may notify */
	return sock;
}

/* One datagram into buf (NUL-terminated); 0 on timeout, -errno on error. */
int tsr_dgram_recv(int fd, char *buf, int len, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	int rc = poll(&p, 1, timeout_ms);
	if (rc <= 0)
		return rc < 0 ? -errno : 0;
	n = recv(fd, buf, (size_t)len - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n > 0 ? (int)n : 1;
}

int tsr_dgram_send(const char *socket_path, const char *buf, int len)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_DGRAM, &addr), rc = 0;
	size_t plen = strlen(socket_path);
	if (sock < 0)
		return sock;
	/* sd_notify's abstract-namespace form: a leading '@' stands for the NUL byte. */
	if (addr.sun_path[0] == '@')
		addr.sun_path[0] = 0;
	if (sendto(sock, buf, (size_t)len, 0, (struct sockaddr *)&addr,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen)) < 0)
		rc = -errno;
	close(sock);
	return rc;
}
