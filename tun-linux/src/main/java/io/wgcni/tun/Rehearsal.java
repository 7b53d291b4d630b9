package io.wgcni.tun;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.Superpackets;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * A rehearsal of the whole data path for a JVM that has just started, before the daemon reports ready: two devices
 * built exactly as jwg's are ({@link LinuxTun} with offloads, {@link UdpBind}) carry TCP superpackets and small
 * packets both ways through every stage (TUN read, cut, seal, {@code sendmmsg}, {@code recvmmsg}, open, coalesce,
 * TUN write) until the JIT compiler has compiled what they run. Their "TUNs" are datagram socket pairs, whose other
 * ends play the kernel, and their sockets talk over loopback (over memory, where this namespace's loopback is down).
 *
 * <p>Without it, the first seconds of a daemon's traffic run in the interpreter and in profiling code: round trips
 * ten times the warm ones, a fraction of the throughput (benchmarks/RESULTS.md section 5). It costs a second or two
 * of CPU at start, before the interface is reported ready.
 */
public final class Rehearsal {
    private static final int MSS = 1380;
    private static final Inet4Address INNER_A = address("10.254.0.1");
    private static final Inet4Address INNER_B = address("10.254.0.2");
    private static final Inet4Address LOOPBACK_A = address("127.0.0.1");
    private static final Inet4Address LOOPBACK_B = address("127.0.0.2");

    private Rehearsal() {}

    /**
     * Rehearses for at least {@code minMillis} and then until the JIT compiler has been quiet for a while, at most
     * {@code maxMillis}; returns how many superpackets went through (0 when it could not be set up).
     */
    public static long run(long minMillis, long maxMillis) {
        long start = System.nanoTime();
        long n = attempt(true, start, minMillis, maxMillis);
        return n >= 0 ? n : Math.max(0, attempt(false, start, minMillis, maxMillis));
    }

    /** One rehearsal over UDP on loopback, or over memory; -1 when the first packet did not get through. */
    private static long attempt(boolean udp, long start, long minMillis, long maxMillis) {
        int type = LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC;
        int[] pairA = Syscalls.socketpair(LibC.AF_UNIX, type, 0);
        int[] pairB = pairA == null ? null : Syscalls.socketpair(LibC.AF_UNIX, type, 0);
        if (pairB == null) {
            if (pairA != null) {
                Syscalls.close(pairA[0]);
                Syscalls.close(pairA[1]);
            }
            return 0;
        }
        MemoryNetwork memory = new MemoryNetwork();
        try (LinuxTun tunA = LinuxTun.overSocket(pairA[0], "rehearse-a", 1420);
                LinuxTun tunB = LinuxTun.overSocket(pairB[0], "rehearse-b", 1420);
                Device a = new Device("rehearse-a", tunA, udp ? new UdpBind() : memory.newBind(LOOPBACK_A),
                        SystemClock.INSTANCE, 1);
                Device b = new Device("rehearse-b", tunB, udp ? new UdpBind() : memory.newBind(LOOPBACK_B),
                        SystemClock.INSTANCE, 1)) {
            Key ka = X25519.generatePrivateKey();
            Key kb = X25519.generatePrivateKey();
            a.setPrivateKey(ka);
            b.setPrivateKey(kb);
            a.up();
            b.up();
            Peer toB = a.addPeer(X25519.publicKey(kb));
            Peer toA = b.addPeer(X25519.publicKey(ka));
            toB.setEndpoint(new Endpoint(udp ? LOOPBACK_A : LOOPBACK_B, b.listenPort()));
            toA.setEndpoint(new Endpoint(LOOPBACK_A, a.listenPort()));
            a.addAllowedIp(toB, new Prefix(INNER_B, 32));
            b.addAllowedIp(toA, new Prefix(INNER_A, 32));
            Packet big = Superpackets.tcp4(INNER_A, INNER_B, new byte[40 * MSS], MSS);
            Packet ack = Superpackets.tcp4(INNER_B, INNER_A, new byte[0], MSS);
            byte[] in = new byte[Packet.SUPER_CAPACITY];
            // The first packet starts a handshake: over loopback it completes in milliseconds, if loopback is up.
            if (!exchange(big, pairA[1], pairB[1], in, 1_000)) {
                return -1;
            }
            return loop(big, ack, pairA[1], pairB[1], in, start, minMillis, maxMillis);
        } catch (IOException | RuntimeException e) {
            return -1;
        } finally {
            Syscalls.close(pairA[1]);
            Syscalls.close(pairB[1]);
        }
    }

    private static long loop(Packet big, Packet ack, int kernelA, int kernelB, byte[] in, long start,
            long minMillis, long maxMillis) {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        long minEnd = start + minMillis * 1_000_000L;
        long maxEnd = start + maxMillis * 1_000_000L;
        long lastJit = timed ? jit.getTotalCompilationTime() : 0;
        long quietSince = System.nanoTime();
        long rounds = 0;
        while (true) {
            exchange(big, kernelA, kernelB, in, 100);
            exchange(ack, kernelB, kernelA, in, 100);
            rounds++;
            long now = System.nanoTime();
            if (timed && rounds % 16 == 0) {
                long t = jit.getTotalCompilationTime();
                if (t != lastJit) {
                    lastJit = t;
                    quietSince = now;
                }
            }
            if (now > maxEnd || now > minEnd && (!timed || now - quietSince > 300_000_000L)) {
                return rounds;
            }
        }
    }

    /**
     * Writes {@code p} (with its virtio_net_hdr) into one device's TUN and waits up to {@code millis} for what
     * comes out of the other's; true when something did.
     */
    private static boolean exchange(Packet p, int from, int to, byte[] in, long millis) {
        byte[] b = p.buf;
        VirtioNetHdr.encode(p, b, p.offset - VirtioNetHdr.LENGTH);
        Syscalls.write(from, b, p.offset - VirtioNetHdr.LENGTH, p.length + VirtioNetHdr.LENGTH);
        long deadline = System.nanoTime() + millis * 1_000_000L;
        boolean got = false;
        while (true) {
            long r = Syscalls.read(to, in, 0, in.length);
            if (r > 0) {
                got = true;
                continue; // drain what is there
            }
            if (got || System.nanoTime() > deadline) {
                return got;
            }
            Thread.onSpinWait();
        }
    }

    private static Inet4Address address(String literal) {
        try {
            return (Inet4Address) InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
