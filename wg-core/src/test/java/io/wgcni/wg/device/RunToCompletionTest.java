package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryNetwork.MemoryBind;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.io.Tun;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.net.InetAddress;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The latency a lone ping once paid (milliseconds, benchmarks/RESULTS.md section 5b) was hand-offs: the TUN reader
 * queued a packet for a crypto worker, which queued it for Netty's event loop; the UDP reader queued it for a
 * worker again. Run to completion means the thread that read a packet is the one that sends it on: this test
 * fails the day a queue and another thread come back between a read and its write, in either direction.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RunToCompletionTest {
    @Test
    void theThreadThatReadsAPacketIsTheOneThatSendsItOn() throws Exception {
        MemoryNetwork network = new MemoryNetwork();
        InetAddress innerA = InetAddress.getByName("192.168.7.1");
        InetAddress innerB = InetAddress.getByName("192.168.7.2");
        MemoryTun tunA = new MemoryTun("a", 1420);
        MemoryTun tunB = new MemoryTun("b", 1420);
        ThreadsOfTun recordB = new ThreadsOfTun(tunB);
        MemoryBind bindA = network.newBind(InetAddress.getByName("10.7.0.1"));
        ThreadsOfBind recordA = new ThreadsOfBind(bindA);
        try (Device a = new Device("rtca", tunA, recordA, SystemClock.INSTANCE);
                Device b = new Device("rtcb", recordB, network.newBind(InetAddress.getByName("10.7.0.2")),
                        SystemClock.INSTANCE)) {
            Key ka = X25519.generatePrivateKey();
            Key kb = X25519.generatePrivateKey();
            a.setPrivateKey(ka);
            b.setPrivateKey(kb);
            a.up();
            b.up();
            Peer toB = a.addPeer(X25519.publicKey(kb));
            Peer toA = b.addPeer(X25519.publicKey(ka));
            a.addAllowedIp(toB, new Prefix(innerB, 32));
            b.addAllowedIp(toA, new Prefix(innerA, 32));
            toB.setEndpoint(new Endpoint(InetAddress.getByName("10.7.0.2"), b.listenPort()));
            byte[] packet = ipv4(innerA, innerB, 200);
            tunA.inject(packet); // starts the handshake; staged packets go out from whoever completes it
            assertNotNull(tunB.poll(5_000), "the tunnel is up");
            recordA.threads.clear();
            recordB.threads.clear();
            for (int i = 0; i < 50; i++) {
                tunA.inject(packet);
                assertNotNull(tunB.poll(5_000), "packet " + i);
            }
            assertEquals(Set.of("wg-rtca-tun-reader"), new TreeSet<>(recordA.threads),
                    "A seals and sends each packet on the thread that read it from the TUN");
            assertEquals(Set.of("wg-rtcb-udp-reader"), new TreeSet<>(recordB.threads),
                    "B opens and writes each packet on the thread that received it");
        }
    }

    private static byte[] ipv4(InetAddress src, InetAddress dst, int total) {
        byte[] p = new byte[total];
        p[0] = 0x45;
        p[2] = (byte) (total >>> 8);
        p[3] = (byte) total;
        p[8] = 64;
        p[9] = 17;
        System.arraycopy(src.getAddress(), 0, p, 12, 4);
        System.arraycopy(dst.getAddress(), 0, p, 16, 4);
        io.wgcni.wg.ip.Checksum.setIpv4Header(p, 0, 20);
        return p;
    }

    /** Records the threads that send data messages (longer than a keepalive's 32 bytes). */
    private static final class ThreadsOfBind implements Bind {
        final Bind bind;
        final Set<String> threads = new ConcurrentSkipListSet<>();

        ThreadsOfBind(Bind bind) {
            this.bind = bind;
        }

        @Override
        public int open(int port) throws IOException {
            return bind.open(port);
        }

        @Override
        public int receive(Packet[] packets, int max) throws IOException {
            return bind.receive(packets, max);
        }

        @Override
        public void send(Packet[] packets, int count, Endpoint to) throws IOException {
            for (int i = 0; i < count; i++) {
                if (packets[i].length > 32 && (packets[i].buf[packets[i].offset] & 0xff) == 4) {
                    threads.add(Thread.currentThread().getName());
                }
            }
            bind.send(packets, count, to);
        }

        @Override
        public void setMark(int mark) throws IOException {
            bind.setMark(mark);
        }

        @Override
        public void close() {
            bind.close();
        }
    }

    /** Records the threads that write packets to the TUN. */
    private static final class ThreadsOfTun implements Tun {
        final Tun tun;
        final Set<String> threads = new ConcurrentSkipListSet<>();

        ThreadsOfTun(Tun tun) {
            this.tun = tun;
        }

        @Override
        public int read(Packet[] packets, int max) throws IOException {
            return tun.read(packets, max);
        }

        @Override
        public void write(Packet[] packets, int count) throws IOException {
            threads.add(Thread.currentThread().getName());
            tun.write(packets, count);
        }

        @Override
        public int mtu() {
            return tun.mtu();
        }

        @Override
        public String name() {
            return tun.name();
        }

        @Override
        public void close() {
            tun.close();
        }
    }
}
