package io.wgcni.tun;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.wgcni.wg.io.Packet;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-packet cost of the TUN read and write system call done four ways on the same non-blocking descriptor, with
 * 1400-byte packets on a real TUN in a namespace of its own: ICMP echo requests written to the TUN, addressed to the
 * TUN's own address from a peer behind it, make the kernel answer into the TUN, where they are read back.
 *
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED \
 *        -cp tun-linux/target/classes:tun-linux/target/test-classes:CLASSPATH io.wgcni.tun.TunIoBenchmark [rounds]
 * </pre>
 * (the {@code --add-opens} only for the FileChannel and stream variants, which need the descriptor's int inside a
 * {@link FileDescriptor}). Prints ns per packet for writes (which include the kernel's ICMP answer) and reads.
 */
public final class TunIoBenchmark {
    static final int SIZE = 1400;
    static final int BATCH = 64;

    interface Io {
        String name();

        /** Bytes read into p.buf at HEADROOM, or &lt;= 0 when nothing was there. */
        int read(Packet p) throws IOException;

        void write(Packet p) throws IOException;
    }

    /** java.lang.foreign, critical, straight on the heap array (what LinuxTun uses). */
    static Io ffm(int fd) {
        return new Io() {
            public String name() {
                return "FFM critical, heap array";
            }

            public int read(Packet p) {
                return (int) Syscalls.read(fd, p.buf, Packet.HEADROOM, p.buf.length - Packet.HEADROOM);
            }

            public void write(Packet p) {
                Syscalls.write(fd, p.buf, p.offset, p.length);
            }
        };
    }

    /** JNA direct mapping on a per-thread direct buffer, copied to and from the packet's array. */
    static Io jna(int fd) {
        ThreadLocal<ByteBuffer> buffers = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(65536));
        ThreadLocal<Pointer> pointers = ThreadLocal.withInitial(() -> Native.getDirectBufferPointer(buffers.get()));
        return new Io() {
            public String name() {
                return "JNA direct + direct buffer copy";
            }

            public int read(Packet p) {
                ByteBuffer bb = buffers.get();
                int n = (int) LibC.read(fd, pointers.get(), p.buf.length - Packet.HEADROOM);
                if (n > 0) {
                    bb.get(0, p.buf, Packet.HEADROOM, n);
                }
                return n;
            }

            public void write(Packet p) {
                ByteBuffer bb = buffers.get();
                bb.put(0, p.buf, p.offset, p.length);
                LibC.write(fd, pointers.get(), p.length);
            }
        };
    }

    /** The JDK's FileChannel (one for reading, one for writing: each locks its position) on heap buffers. */
    static Io fileChannel(int fd) throws ReflectiveOperationException {
        FileDescriptor fdo = descriptor(fd);
        FileChannel in = new FileInputStream(fdo).getChannel();
        FileChannel out = new FileOutputStream(fdo).getChannel();
        return new Io() {
            public String name() {
                return "JDK FileChannel, ByteBuffer.wrap";
            }

            public int read(Packet p) throws IOException {
                return in.read(ByteBuffer.wrap(p.buf, Packet.HEADROOM, p.buf.length - Packet.HEADROOM));
            }

            public void write(Packet p) throws IOException {
                out.write(ByteBuffer.wrap(p.buf, p.offset, p.length));
            }
        };
    }

    /** The JDK's FileInputStream/FileOutputStream read(byte[], off, len): EAGAIN is an IOException there. */
    static Io streams(int fd) throws ReflectiveOperationException {
        FileDescriptor fdo = descriptor(fd);
        FileInputStream in = new FileInputStream(fdo);
        FileOutputStream out = new FileOutputStream(fdo);
        return new Io() {
            public String name() {
                return "JDK File{In,Out}putStream byte[]";
            }

            public int read(Packet p) {
                try {
                    return in.read(p.buf, Packet.HEADROOM, p.buf.length - Packet.HEADROOM);
                } catch (IOException e) {
                    return 0;
                }
            }

            public void write(Packet p) throws IOException {
                out.write(p.buf, p.offset, p.length);
            }
        };
    }

    static FileDescriptor descriptor(int fd) throws ReflectiveOperationException {
        FileDescriptor fdo = new FileDescriptor();
        Field f = FileDescriptor.class.getDeclaredField("fd");
        f.setAccessible(true);
        f.setInt(fdo, fd);
        return fdo;
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3000;
        String ns = Root.unique("wgtun-");
        Netns.add(ns);
        try (LinuxTun tun = setUp(ns)) {
            run(tun.fd(), rounds);
        } finally {
            Netns.delete(ns);
        }
    }

    /** bench0 in {@code ns}: 10.201.0.1/24, up, IPv6 off (no router solicitations in the way). */
    static LinuxTun setUp(String ns) throws IOException {
        LinuxTun tun = LinuxTun.createIn(ns, "bench0", 1500, false); // raw reads and writes: no virtio_net_hdr
        try {
            Netns.runIn(ns, () -> Files.writeString(Path.of("/proc/sys/net/ipv6/conf/bench0/disable_ipv6"), "1"));
            Links links = Links.in(ns);
            links.addAddress("bench0", "10.201.0.1/24");
            links.setUp("bench0");
            return tun;
        } catch (IOException | RuntimeException e) {
            tun.close();
            throw e;
        }
    }

    static void run(int fd, int rounds) throws Exception {
        InetAddress self = InetAddress.getByName("10.201.0.1");
        InetAddress peer = InetAddress.getByName("10.201.0.2");
        Packet[] tx = new Packet[BATCH];
        Packet[] rx = new Packet[BATCH];
        Packet[] bad = new Packet[BATCH];
        for (int i = 0; i < BATCH; i++) {
            tx[i] = new Packet();
            tx[i].set(Packet.HEADROOM, Icmp.echo4(tx[i].buf, Packet.HEADROOM, peer, self, 7, i, SIZE));
            rx[i] = new Packet();
            // The same request with a broken IP header checksum: the kernel drops it in ip_rcv, so a write costs
            // the system call, the copy and an skb, not the ICMP answer.
            bad[i] = new Packet();
            System.arraycopy(tx[i].buf, 0, bad[i].buf, 0, tx[i].buf.length);
            bad[i].set(tx[i].offset, tx[i].length);
            bad[i].buf[Packet.HEADROOM + 10] ^= 0x5a;
        }
        List<Io> ios = new ArrayList<>(List.of(ffm(fd), jna(fd)));
        try {
            ios.add(fileChannel(fd));
            ios.add(streams(fd));
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.out.println("JDK variants skipped (run with --add-opens java.base/java.io=ALL-UNNAMED): " + e);
        }
        int blocks = 10;
        long[][] writeNs = new long[ios.size()][blocks];
        long[][] readNs = new long[ios.size()][blocks];
        long[][] dropNs = new long[ios.size()][blocks];
        long[] misses = new long[ios.size()];
        // Warm-up, then blocks interleaved between the variants so that a noisy neighbour hurts them alike.
        for (int k = 0; k < ios.size(); k++) {
            round(ios.get(k), tx, rx, rounds, new long[3]);
        }
        for (int b = 0; b < blocks; b++) {
            for (int k = 0; k < ios.size(); k++) {
                long[] r = new long[3];
                round(ios.get(k), tx, rx, rounds / blocks + 1, r);
                long packets = (long) (rounds / blocks + 1) * BATCH;
                writeNs[k][b] = r[0] / packets;
                readNs[k][b] = r[1] / packets;
                misses[k] += r[2];
                dropNs[k][b] = writeOnly(ios.get(k), bad, rounds / blocks + 1) / packets;
            }
        }
        System.out.printf("%d-byte packets, %d per batch, %d blocks of %d batches; ns/packet, median (min-max)%n",
                SIZE, BATCH, blocks, rounds / blocks + 1);
        for (int k = 0; k < ios.size(); k++) {
            System.out.printf("  %-34s write+answer %s   read %s   write, dropped %s   (empty reads: %d)%n",
                    ios.get(k).name(), stats(writeNs[k]), stats(readNs[k]), stats(dropNs[k]), misses[k]);
        }
    }

    private static String stats(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return String.format("%5d (%d-%d)", s[s.length / 2], s[0], s[s.length - 1]);
    }

    private static long writeOnly(Io io, Packet[] packets, int rounds) throws IOException {
        long t0 = System.nanoTime();
        for (int n = 0; n < rounds; n++) {
            for (Packet p : packets) {
                io.write(p);
            }
        }
        return System.nanoTime() - t0;
    }

    /** r[0] += ns writing, r[1] += ns reading, r[2] += empty reads. */
    private static void round(Io io, Packet[] tx, Packet[] rx, int rounds, long[] r) throws IOException {
        for (int n = 0; n < rounds; n++) {
            long t0 = System.nanoTime();
            for (Packet p : tx) {
                io.write(p);
            }
            long t1 = System.nanoTime();
            int got = 0;
            long spins = 0;
            while (got < BATCH) {
                int len = io.read(rx[got]);
                if (len == SIZE) {
                    got++;
                } else if (len <= 0) {
                    r[2]++;
                    if (++spins > 1_000_000) {
                        throw new IOException(io.name() + ": replies missing: " + got + " of " + BATCH);
                    }
                }
            }
            long t2 = System.nanoTime();
            r[0] += t1 - t0;
            r[1] += t2 - t1;
        }
    }
}
