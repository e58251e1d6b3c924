/* linux.netDevices: move a host interface into the container's network namespace, over netlink. */
#include "shim.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_addr.h>

struct tsr_nl_req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
	} u;
	char attrs[512];
};

static void nl_attr(struct tsr_nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send one request and wait for its ack; 0 or -errno. */
static int nl_talk(int s, struct tsr_nl_req *r)
{
	char buf[8192];
	static uint32_t seq;
	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = ++seq;
	if (send(s, r, r->nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(s, buf, sizeof buf, 0);
		struct nlmsghdr *h;
		if (n < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->nh.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

struct tsr_addr {
	unsigned char family, prefixlen;
	unsigned char addr[16];
	size_t len;
};

/* The permanent, global-scope addresses of an interface (what the runtime-spec says to keep). */
static int nl_addrs(int s, int ifindex, struct tsr_addr *out, int max)
{
	struct tsr_nl_req r;
	char buf[16384];
	int count = 0, done = 0;
	memset(&r, 0, sizeof r);
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = RTM_GETADDR;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.u.ifa.ifa_family = AF_UNSPEC;
	if (send(s, &r, r.nh.nlmsg_len, 0) < 0)
		return -errno;
	while (!done) {
		ssize_t n = recv(s, buf, sizeof buf, 0);
		struct nlmsghdr *h;
		if (n < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct ifaddrmsg *ifa;
			struct rtattr *a;
			int alen;
			uint32_t flags;
			const void *addr = NULL;
			size_t addrlen = 0;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			ifa = NLMSG_DATA(h);
			if ((int)ifa->ifa_index != ifindex || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
				continue;
			flags = ifa->ifa_flags;
			alen = (int)IFA_PAYLOAD(h);
			for (a = IFA_RTA(ifa); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == IFA_FLAGS)
					memcpy(&flags, RTA_DATA(a), sizeof flags);
				else if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr)) {
					addr = RTA_DATA(a);
					addrlen = RTA_PAYLOAD(a);
				}
			}
			if (!(flags & IFA_F_PERMANENT) || !addr || addrlen > 16 || count >= max)
				continue;
			out[count].family = ifa->ifa_family;
			out[count].prefixlen = ifa->ifa_prefixlen;
			memcpy(out[count].addr, addr, addrlen);
			out[count].len = addrlen;
			count++;
		}
	}
	return count;
}

/*
 * Move host interface `name` into the network namespace netns_fd, renamed to newname (may be a
 * "%d" template; empty: keep the name), keep its permanent global addresses, and set it up.
 * Called from the parent on Node's main thread: setns(CLONE_NEWNET) there affects only that
 * thread, and is undone before returning. Returns 0 or -errno.
 */
int tsr_netdev_move(const char *name, const char *newname, int netns_fd)
{
	struct tsr_addr addrs[32];
	struct tsr_nl_req r;
	int s = -1, t = -1, self = -1, ifindex, naddr, rc, i;

	ifindex = (int)if_nametoindex(name);
	if (ifindex == 0)
		return -ENODEV;
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	naddr = nl_addrs(s, ifindex, addrs, 32);
	if (naddr < 0) {
		rc = naddr;
		goto out;
	}
	memset(&r, 0, sizeof r);
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.nh.nlmsg_type = RTM_NEWLINK;
	r.u.ifi.ifi_family = AF_UNSPEC;
	r.u.ifi.ifi_index = ifindex;
	{
		uint32_t fd = (uint32_t)netns_fd;
		nl_attr(&r, IFLA_NET_NS_FD, &fd, sizeof fd);
	}
	if (newname && *newname)
		nl_attr(&r, IFLA_IFNAME, newname, strlen(newname) + 1);
	rc = nl_talk(s, &r);
	if (rc < 0)
		goto out;

	/* A netlink socket in the container's namespace. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(netns_fd, CLONE_NEWNET) < 0) {
		rc = -errno;
		goto out;
	}
	t = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	rc = t < 0 ? -errno : 0;
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* cannot go back: this thread would do everything else in the container's netns */
	if (rc < 0)
		goto out;
	/* The kernel keeps the ifindex when it is free in the target namespace, as it is in a new one. */
	for (i = 0; i < naddr; i++) {
		memset(&r, 0, sizeof r);
		r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
		r.nh.nlmsg_type = RTM_NEWADDR;
		r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
		r.u.ifa.ifa_family = addrs[i].family;
		r.u.ifa.ifa_prefixlen = addrs[i].prefixlen;
		r.u.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
		r.u.ifa.ifa_index = (unsigned)ifindex;
		nl_attr(&r, IFA_LOCAL, addrs[i].addr, addrs[i].len);
		nl_attr(&r, IFA_ADDRESS, addrs[i].addr, addrs[i].len);
		rc = nl_talk(t, &r);
		if (rc < 0 && rc != -EEXIST)
			goto out;
	}
	memset(&r, 0, sizeof r);
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.nh.nlmsg_type = RTM_NEWLINK;
	r.u.ifi.ifi_family = AF_UNSPEC;
	r.u.ifi.ifi_index = ifindex;
	r.u.ifi.ifi_flags = IFF_UP;
	r.u.ifi.ifi_change = IFF_UP;
	rc = nl_talk(t, &r);
out:
	if (t >= 0)
		close(t);
	if (self >= 0)
		close(self);
	close(s);
	return rc;
}
