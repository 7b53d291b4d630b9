package io.wgcni.tun;

import com.sun.jna.LastErrorException;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.io.Tun;
import io.wgcni.wg.ip.IpHeader;
import io.wgcni.wg.ip.Segmenter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Linux TUN interface ({@code IFF_TUN | IFF_NO_PI}: whole IP packets), as wg-core's {@link Tun}.
 *
 * <p>Offloads (unless switched off, {@link Offloads#TUN_OFFLOAD}): the TUN is opened with {@code IFF_VNET_HDR} and
 * {@code TUNSETOFFLOAD} CSUM, TSO4 and TSO6 (and USO4/USO6 where the kernel takes them, Linux 6.2 on): a read may
 * then bring a TCP (or UDP) superpacket of up to 64 KiB, described by the {@link VirtioNetHdr} in front of it, and a
 * write may carry one back. wireguard-go's tun/offload_linux.go works the same way. When the kernel refuses the
 * offload flags, the TUN carries plain packets (logged once); when it refuses a superpacket on write, that one is cut
 * and written in pieces and no more are written (logged once).
 *
 * <p>Opening and configuring the device goes through JNA ({@code open}, {@code ioctl(TUNSETIFF)}, {@code
 * SIOCSIFMTU}); the packets themselves through {@link Syscalls}, critical java.lang.foreign downcalls that
 * read and write the packet's heap array in place (the README has the measurements against JNA and {@code
 * FileChannel}). The descriptor is non-blocking: {@link #read} waits in {@code poll(2)} on the TUN and on an
 * {@code eventfd} that {@link #close} signals, so a reader blocked in another thread returns -1 at once when the
 * device is closed. {@link #readReady} reads the same way without waiting, for {@link TunPoller}, which serves
 * many TUNs from one thread.
 *
 * <p>Thread safety: any number of threads may read and write at once. {@link #close} waits until no call is
 * using the descriptor before it closes it (which removes the interface, unless it was made persistent).
 *
 * <p>Persistent interfaces ({@link #createPersistentIn}, {@link #openPersistentIn}) outlive the process that made
 * them: a daemon restarted after a crash attaches to its interfaces again, and the traffic through them resumes
 * without the namespace's addresses and routes ever going away.
 */
public final class LinuxTun implements Tun {
    private static final Logger log = LoggerFactory.getLogger(LinuxTun.class);
    static final String DEV_NET_TUN = "/dev/net/tun";
    static final int BATCH = 128;
    /** Reads per call with offloads: each buffer holds a 64 KiB superpacket. */
    static final int OFFLOAD_BATCH = 32;
    private static final byte[] ONE = {1, 0, 0, 0, 0, 0, 0, 0};

    private final int fd;
    private final int wakeFd;
    /** An AF_INET datagram socket opened in the TUN's namespace, for the interface ioctls (MTU). */
    private final int ctlFd;
    private final String name;
    private final String netns;
    private volatile int mtu;
    /** Every read and write starts with a virtio_net_hdr. */
    private final boolean vnetHdr;
    /** TCP superpackets (TSO4/6) and partial checksums both ways. */
    private volatile boolean tcpOffload;
    private final boolean udpOffload;
    private final LongAdder malformedReads = new LongAdder();

    private volatile boolean closed;
    private final AtomicInteger users = new AtomicInteger();
    private final AtomicBoolean fdsClosed = new AtomicBoolean();
    /** Set when {@link #close} gave up waiting for a call: that call's {@link #release} closes the descriptors. */
    private volatile boolean abandoned;
    private final LongAdder droppedWrites = new LongAdder();
    private final LongAdder droppedReads = new LongAdder();
    /** Run once by {@link #close} ({@link #onClose}); guarded by this. */
    private final java.util.List<Runnable> closeListeners = new java.util.ArrayList<>();

    private LinuxTun(int fd, int wakeFd, int ctlFd, String name, String netns, int mtu, int offloads) {
        this.fd = fd;
        this.wakeFd = wakeFd;
        this.ctlFd = ctlFd;
        this.name = name;
        this.netns = netns;
        this.mtu = mtu;
        this.vnetHdr = offloads >= 0;
        this.tcpOffload = offloads > 0;
        this.udpOffload = (offloads & LibC.TUN_F_USO4) != 0;
    }

    /** How {@link #open} treats an interface that already has the name. */
    private enum Mode {
        /** Creates the interface, or attaches to a persistent TUN of that name no one holds (TUNSETIFF's default). */
        CREATE_OR_ATTACH,
        /** Creates a new interface and makes it persistent; fails if the name is taken. */
        CREATE_PERSISTENT,
        /** Attaches to an existing persistent TUN; fails if there is none. */
        ATTACH_PERSISTENT
    }

    /**
     * Creates a TUN interface in this thread's network namespace. {@code name} may be a template such as
     * {@code "wg%d"}: {@link #name()} tells what the kernel chose. {@code mtu <= 0} keeps the kernel's default
     * (1500). The interface is left down and without addresses (see {@link Links}).
     */
    public static LinuxTun create(String name, int mtu) throws IOException {
        return open(name, mtu, null, Mode.CREATE_OR_ATTACH, Offloads.TUN_OFFLOAD.enabled());
    }

    /**
     * Creates a TUN interface inside another network namespace (a name under {@code /var/run/netns} or a path such
     * as {@code /proc/PID/ns/net}). The descriptor is opened there, on a thread that enters the namespace and then
     * exits, and stays attached to that interface: reads and writes from any thread of this process reach it.
     */
    public static LinuxTun createIn(String netns, String name, int mtu) throws IOException {
        return createIn(netns, name, mtu, Offloads.TUN_OFFLOAD.enabled());
    }

    /** As {@link #createIn(String, String, int)}, with offloads ({@code IFF_VNET_HDR}) only if {@code offload}. */
    static LinuxTun createIn(String netns, String name, int mtu, boolean offload) throws IOException {
        return Netns.inNamespace(netns, () -> open(name, mtu, netns, Mode.CREATE_OR_ATTACH, offload));
    }

    /**
     * Creates a new persistent TUN ({@code TUNSETPERSIST}) in {@code netns} (null: this thread's namespace): the
     * interface, its addresses and routes outlive this object and this process, until {@link #setPersistent
     * setPersistent(false)} and {@link #close}, or until its namespace goes away. Fails with {@link
     * FileAlreadyExistsException} when any interface of that name exists there ({@code IFF_TUN_EXCL}): it never
     * takes over someone else's.
     */
    public static LinuxTun createPersistentIn(String netns, String name, int mtu) throws IOException {
        boolean offload = Offloads.TUN_OFFLOAD.enabled();
        return inNamespace(netns, () -> open(name, mtu, netns, Mode.CREATE_PERSISTENT, offload));
    }

    /**
     * Attaches to the persistent TUN {@code name} in {@code netns} (null: this thread's namespace), as a restarted
     * process does to find its interface as it left it; the MTU is the interface's. Fails with {@link
     * NoSuchFileException} when there is no such interface, and with an IOException when it is not a TUN or
     * another descriptor holds it.
     */
    public static LinuxTun openPersistentIn(String netns, String name) throws IOException {
        boolean offload = Offloads.TUN_OFFLOAD.enabled();
        return inNamespace(netns, () -> open(name, 0, netns, Mode.ATTACH_PERSISTENT, offload));
    }

    private static LinuxTun inNamespace(String netns, java.util.concurrent.Callable<LinuxTun> body)
            throws IOException {
        if (netns == null) {
            try {
                return body.call();
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        }
        return Netns.inNamespace(netns, body);
    }

    private static LinuxTun open(String name, int mtu, String netns, Mode mode, boolean offload) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length == 0 || nameBytes.length >= LibC.IFNAMSIZ) {
            throw new IllegalArgumentException("an interface name has 1 to 15 characters: '" + name + "'");
        }
        int fd = -1;
        int wake = -1;
        int ctl = -1;
        try {
            fd = LibC.open(DEV_NET_TUN, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
            byte[] ifr = ifreq(nameBytes);
            short flags = (short) (LibC.IFF_TUN | LibC.IFF_NO_PI | (offload ? LibC.IFF_VNET_HDR : 0)
                    | (mode == Mode.CREATE_PERSISTENT ? LibC.IFF_TUN_EXCL : 0));
            putShort(ifr, LibC.IFNAMSIZ, flags);
            try {
                LibC.ioctl(fd, LibC.TUNSETIFF, ifr);
            } catch (LastErrorException e) {
                if (mode == Mode.CREATE_PERSISTENT && e.getErrorCode() == LibC.EBUSY) {
                    throw new FileAlreadyExistsException(name, null, "an interface of that name exists");
                }
                throw new IOException(LibC.error("TUNSETIFF " + name, e));
            }
            String actual = ifName(ifr);
            if (mode == Mode.ATTACH_PERSISTENT && (flags(fd) & LibC.IFF_PERSIST) == 0) {
                // TUNSETIFF made a new interface: there was none to attach to. Closing removes it again.
                throw new NoSuchFileException(name, null, "no persistent TUN of that name");
            }
            ctl = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
            if (mtu > 0) {
                setMtu(ctl, actual, mtu);
            }
            int kernelMtu = getMtu(ctl, actual);
            wake = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
            int offloads = offload ? setOffloads(fd, actual) : -1;
            if (mode == Mode.CREATE_PERSISTENT) {
                LibC.ioctl(fd, LibC.TUNSETPERSIST, 1L); // last: nothing after it can fail and leave it behind
            }
            return new LinuxTun(fd, wake, ctl, actual, netns, kernelMtu, offloads);
        } catch (LastErrorException e) {
            closeQuietly(fd, wake, ctl);
            throw new IOException(LibC.error("creating TUN " + name, e));
        } catch (IOException | RuntimeException e) {
            closeQuietly(fd, wake, ctl);
            throw e;
        }
    }

    private static volatile boolean warnedNoOffload;

    /**
     * Asks for checksum and TCP segmentation offload, then UDP too; returns the TUN_F_* bits the kernel took (0:
     * none, the TUN then carries plain packets behind an empty header).
     */
    private static int setOffloads(int fd, String name) {
        int tcp = LibC.TUN_F_CSUM | LibC.TUN_F_TSO4 | LibC.TUN_F_TSO6;
        int udp = LibC.TUN_F_USO4 | LibC.TUN_F_USO6;
        for (int bits : new int[] {tcp | udp, tcp}) {
            try {
                LibC.ioctl(fd, LibC.TUNSETOFFLOAD, (long) bits);
                return bits;
            } catch (LastErrorException e) {
                // the kernel is older than this set of flags: try fewer
            }
        }
        if (!warnedNoOffload) {
            warnedNoOffload = true;
            log.info("{}: the kernel refuses TUN offloads (TUNSETOFFLOAD); carrying plain packets", name);
        }
        return 0;
    }

    /**
     * A stand-in for a TUN over one end of a datagram socket pair ({@code AF_UNIX}, {@code SOCK_DGRAM}, non-blocking),
     * with offloads: reads and writes go through the same code and system calls as a real TUN's, which is what
     * {@link Rehearsal} needs to warm up. The other end plays the kernel.
     */
    static LinuxTun overSocket(int fd, String name, int mtu) throws IOException {
        int wake;
        try {
            wake = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        } catch (LastErrorException e) {
            throw new IOException(LibC.error("eventfd", e));
        }
        return new LinuxTun(fd, wake, -1, name, null, mtu,
                LibC.TUN_F_CSUM | LibC.TUN_F_TSO4 | LibC.TUN_F_TSO6 | LibC.TUN_F_USO4 | LibC.TUN_F_USO6);
    }

    /** The interface flags TUNGETIFF reports ({@code IFF_TUN}, {@code IFF_PERSIST}...). */
    private static int flags(int fd) throws IOException {
        byte[] ifr = new byte[LibC.IFREQ_SIZE];
        try {
            LibC.ioctl(fd, LibC.TUNGETIFF, ifr);
        } catch (LastErrorException e) {
            throw new IOException(LibC.error("TUNGETIFF", e));
        }
        return (ifr[LibC.IFNAMSIZ] & 0xff) | (ifr[LibC.IFNAMSIZ + 1] & 0xff) << 8;
    }

    // ---- Tun ----

    @Override
    public int read(Packet[] packets, int max) throws IOException {
        return read(packets, max, true);
    }

    /**
     * The packets queued now (up to {@code max}), without waiting: 0 when none is, -1 once closed. For {@link
     * TunPoller}, which calls it when epoll says the descriptor is readable.
     */
    @Override
    public int readReady(Packet[] packets, int max) throws IOException {
        return read(packets, max, false);
    }

    /** Both reads: when nothing is queued, {@code block} waits in poll(2) for a packet or close; else returns 0. */
    private int read(Packet[] packets, int max, boolean block) throws IOException {
        if (max <= 0) {
            return 0;
        }
        if (!acquire()) {
            return -1;
        }
        try {
            int n = 0;
            int header = vnetHdr ? VirtioNetHdr.LENGTH : 0;
            while (n < max) {
                Packet p = packets[n];
                p.ensureCapacity(vnetHdr ? Packet.SUPER_CAPACITY : Packet.HEADROOM + mtu + Packet.TAILROOM);
                int room = p.buf.length - Packet.HEADROOM - Packet.TAILROOM + header;
                long r = Syscalls.read(fd, p.buf, Packet.HEADROOM - header, room);
                if (r > header) {
                    int len = (int) r - header;
                    p.set(Packet.HEADROOM, len);
                    if (vnetHdr && !VirtioNetHdr.decode(p.buf, Packet.HEADROOM - header, p)) {
                        malformedReads.increment();
                    } else if (p.gso == Packet.GSO_NONE && !complete(p.buf, Packet.HEADROOM, len)) {
                        droppedReads.increment();
                    } else {
                        n++;
                    }
                    continue;
                }
                if (r > 0) {
                    malformedReads.increment(); // no packet behind the header
                    continue;
                }
                int errno = (int) -r;
                if (r >= 0 || errno == LibC.EINTR) {
                    continue;
                }
                if (errno != LibC.EAGAIN) {
                    if (closed) {
                        return n > 0 ? n : -1;
                    }
                    throw new IOException(describe("reading", errno));
                }
                if (n > 0 || !block) {
                    break;
                }
                awaitReadable();
                if (closed) {
                    return -1;
                }
            }
            return n;
        } finally {
            release();
        }
    }

    @Override
    public void write(Packet[] packets, int count) throws IOException {
        if (!acquire()) {
            return;
        }
        try {
            for (int i = 0; i < count; i++) {
                Packet p = packets[i];
                if (p.gso != Packet.GSO_NONE && (!tcpOffload || p.gso == Packet.GSO_UDP && !udpOffload)) {
                    writeCut(p); // a superpacket from an in-process hop, for a TUN that does not take its kind
                } else if (writeOne(p) == -LibC.EINVAL && p.gso != Packet.GSO_NONE) {
                    refuseSuperpackets();
                    writeCut(p);
                }
            }
        } finally {
            release();
        }
    }

    /** Writes one packet (behind its virtio_net_hdr, in the headroom); the result, or -errno (counted). */
    private long writeOne(Packet p) {
        int header = vnetHdr ? VirtioNetHdr.LENGTH : 0;
        if (vnetHdr) {
            VirtioNetHdr.encode(p, p.buf, p.offset - header);
        } else if (p.partialChecksum && !Segmenter.finishChecksum(p)) {
            droppedWrites.increment();
            return -LibC.EINVAL;
        }
        long r;
        do {
            r = Syscalls.write(fd, p.buf, p.offset - header, p.length + header);
        } while (r == -LibC.EINTR);
        if (r < 0) {
            // EIO: the interface is down; EINVAL: not an IP packet, or a superpacket refused; EAGAIN: no room.
            droppedWrites.increment();
        }
        return r;
    }

    /** A superpacket the TUN will not take: cut it here and write the pieces. */
    private void writeCut(Packet p) {
        int total = Segmenter.segments(p);
        Packet[] segs = cutBuffers();
        for (int first = 0; total > 0 && first < total; first += segs.length) {
            int n = Segmenter.split(p, first, segs, 0, segs.length);
            if (n <= 0) {
                droppedWrites.increment();
                return;
            }
            for (int i = 0; i < n; i++) {
                writeOne(segs[i]);
            }
        }
    }

    private final ThreadLocal<Packet[]> cutBuffers = ThreadLocal.withInitial(() -> {
        Packet[] ps = new Packet[64];
        for (int i = 0; i < ps.length; i++) {
            ps[i] = new Packet();
        }
        return ps;
    });

    private Packet[] cutBuffers() {
        return cutBuffers.get();
    }

    private void refuseSuperpackets() {
        if (tcpOffload) {
            tcpOffload = false;
            log.info("{}: the kernel refused a superpacket on write; writing plain packets from now on", name);
        }
    }

    @Override
    public boolean tcpOffload() {
        return tcpOffload;
    }

    @Override
    public boolean udpOffload() {
        return tcpOffload && udpOffload;
    }

    /** Whether packets carry a virtio_net_hdr (offloads asked for and, maybe, granted). */
    public boolean vnetHdr() {
        return vnetHdr;
    }

    /** Reads whose virtio_net_hdr described nothing wg-core can handle, dropped. */
    public long malformedReads() {
        return malformedReads.sum();
    }

    @Override
    public java.util.Map<String, Long> drops() {
        return java.util.Map.of("tun_malformed_read", malformedReads(), "tun_dropped_read", droppedReads(),
                "tun_dropped_write", droppedWrites());
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int batchSize() {
        return vnetHdr ? OFFLOAD_BATCH : BATCH;
    }

    /** The namespace the interface was created in (as given to {@link #createIn}), or null for the host's. */
    public String netns() {
        return netns;
    }

    /** Sets the interface's MTU (an ioctl in the interface's namespace, from any thread). */
    public void setMtu(int newMtu) throws IOException {
        if (!acquire()) {
            throw new IOException(name + " is closed");
        }
        try {
            setMtu(ctlFd, name, newMtu);
            mtu = getMtu(ctlFd, name);
        } finally {
            release();
        }
    }

    /** Reads the MTU back from the kernel, for when something else ({@code ip link set mtu}) changed it. */
    public int refreshMtu() throws IOException {
        if (!acquire()) {
            return mtu;
        }
        try {
            mtu = getMtu(ctlFd, name);
            return mtu;
        } finally {
            release();
        }
    }

    /**
     * Makes the interface persistent or not ({@code TUNSETPERSIST}). A persistent interface stays, with its
     * addresses and routes, when its descriptor is closed (by {@link #close}, or by the process dying); turning it
     * off before {@link #close} makes close remove it.
     */
    public void setPersistent(boolean persistent) throws IOException {
        if (!acquire()) {
            throw new IOException(name + " is closed");
        }
        try {
            LibC.ioctl(fd, LibC.TUNSETPERSIST, persistent ? 1L : 0L);
        } catch (LastErrorException e) {
            throw new IOException(describe("TUNSETPERSIST", e.getErrorCode()));
        } finally {
            release();
        }
    }

    /** Whether the interface outlives its descriptor (see {@link #setPersistent}). */
    public boolean isPersistent() throws IOException {
        if (!acquire()) {
            throw new IOException(name + " is closed");
        }
        try {
            return (flags(fd) & LibC.IFF_PERSIST) != 0;
        } finally {
            release();
        }
    }

    /** Packets the kernel refused on write (interface down, not IP), dropped as {@link Tun#write} says. */
    public long droppedWrites() {
        return droppedWrites.sum();
    }

    /** Packets read truncated (larger than the buffer: the MTU grew behind our back), dropped. */
    public long droppedReads() {
        return droppedReads.sum();
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * True when the interface is gone although this object is open: someone deleted it ({@code ip link del}), or
     * its namespace went away. A cheap ioctl ({@code TUNGETIFF}), fit for polling; wg-core's device stops reading
     * when its read fails, so a daemon that must exit with its interface (as {@code jwg} does) asks this.
     */
    public boolean isRemoved() {
        if (!acquire()) {
            return false;
        }
        try {
            LibC.ioctl(fd, LibC.TUNGETIFF, new byte[LibC.IFREQ_SIZE]);
            return false;
        } catch (LastErrorException e) {
            return e.getErrorCode() == LibC.EBADFD;
        } finally {
            release();
        }
    }

    /**
     * The TUN file descriptor (non-blocking), for tests and measurements. Anything that hands the number to the
     * kernel after this returns races with {@link #close} (the number may by then name another file): use {@link
     * #withFd}.
     */
    int fd() {
        return fd;
    }

    /** Something done with the descriptor number while it cannot be closed. */
    @FunctionalInterface
    interface FdUse {
        void use(int fd) throws IOException;
    }

    /**
     * Runs {@code use} with the descriptor held open (as a read holds it: {@link #close} waits for it), so the number
     * cannot be closed and reused by another file meanwhile; false, without running it, once the TUN is closed. A
     * poller registers and unregisters the descriptor with epoll this way.
     */
    boolean withFd(FdUse use) throws IOException {
        if (!acquire()) {
            return false;
        }
        try {
            use.use(fd);
            return true;
        } finally {
            release();
        }
    }

    /**
     * Has {@code listener} run once by {@link #close}, on the closing thread, right after the TUN counts as closed
     * (reads return -1 from then on) and before close waits for the calls under way; false, without keeping it, when
     * the TUN is closed already. For a poller, to which a closed descriptor otherwise says nothing: the kernel just
     * drops it from the epoll set. A listener must be quick and must not wait for a thread that is using this TUN.
     */
    boolean onClose(Runnable listener) {
        synchronized (this) {
            if (closed) {
                return false;
            }
            closeListeners.add(listener);
            return true;
        }
    }

    /** Forgets a listener {@link #onClose} took (nothing when it is not there). */
    void removeOnClose(Runnable listener) {
        synchronized (this) {
            closeListeners.remove(listener);
        }
    }

    /**
     * Closes the device: readers blocked in {@link #read} return -1 at once, and once no call is using the
     * descriptor this method closes it, which removes the interface (the kernel takes some milliseconds to
     * unregister it). Should a call still be running after 2 s, the last call to leave closes it instead.
     */
    @Override
    public void close() {
        java.util.List<Runnable> listeners = java.util.List.of();
        synchronized (this) {
            if (!closed) {
                closed = true;
                LibC.write(wakeFd, ONE, ONE.length);
                listeners = java.util.List.copyOf(closeListeners);
                closeListeners.clear();
            }
        }
        // Outside the monitor: a listener takes its own locks, and release() takes this monitor.
        for (Runnable listener : listeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                log.warn("{}: a close listener failed", name, e);
            }
        }
        synchronized (this) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            boolean interrupted = false;
            while (users.get() != 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (users.get() != 0) {
                abandoned = true; // a call is stuck: whoever leaves last closes
            }
        }
        if (users.get() == 0) {
            closeFds();
        }
    }

    @Override
    public String toString() {
        return "LinuxTun[" + name + (netns == null ? "" : " in " + netns) + ", mtu " + mtu + (closed ? ", closed" : "")
                + "]";
    }

    // ---- internals ----

    private boolean acquire() {
        users.incrementAndGet();
        if (closed) {
            release();
            return false;
        }
        return true;
    }

    private void release() {
        if (users.decrementAndGet() == 0 && closed) {
            if (abandoned) {
                closeFds();
            } else {
                synchronized (this) {
                    notifyAll();
                }
            }
        }
    }

    private void closeFds() {
        if (fdsClosed.compareAndSet(false, true)) {
            LibC.close(fd);
            if (ctlFd >= 0) {
                LibC.close(ctlFd);
            }
            LibC.close(wakeFd);
        }
    }

    /** Blocks in poll(2) until the TUN is readable, broken, or {@link #close} signalled. */
    private void awaitReadable() throws IOException {
        int[] fds = {fd, LibC.POLLIN, wakeFd, LibC.POLLIN};
        while (LibC.poll(fds, 2, -1) < 0) {
            int errno = com.sun.jna.Native.getLastError();
            if (errno != LibC.EINTR) {
                throw new IOException(describe("poll", errno));
            }
        }
    }

    /** False when a read was cut short: the IP header says the packet is longer than what was read. */
    private static boolean complete(byte[] b, int off, int n) {
        int version = IpHeader.version(b, off, n);
        return version == 0 || IpHeader.totalLength(b, off, version) <= n; // no IP header: the device drops it
    }

    private String describe(String what, int errno) {
        String msg = LibC.strerror(errno);
        if (errno == LibC.EBADFD) { // the interface went away (ip link del)
            return name + ": " + what + ": the interface was removed (" + msg + ")";
        }
        return name + ": " + what + ": " + msg + " (errno " + errno + ")";
    }

    private static void setMtu(int ctl, String name, int mtu) throws IOException {
        byte[] ifr = ifreq(name.getBytes(StandardCharsets.US_ASCII));
        putInt(ifr, LibC.IFNAMSIZ, mtu);
        try {
            LibC.ioctl(ctl, LibC.SIOCSIFMTU, ifr);
        } catch (LastErrorException e) {
            throw new IOException(LibC.error("setting the MTU of " + name + " to " + mtu, e));
        }
    }

    private static int getMtu(int ctl, String name) throws IOException {
        byte[] ifr = ifreq(name.getBytes(StandardCharsets.US_ASCII));
        try {
            LibC.ioctl(ctl, LibC.SIOCGIFMTU, ifr);
        } catch (LastErrorException e) {
            throw new IOException(LibC.error("reading the MTU of " + name, e));
        }
        return (ifr[16] & 0xff) | (ifr[17] & 0xff) << 8 | (ifr[18] & 0xff) << 16 | (ifr[19] & 0xff) << 24;
    }

    private static byte[] ifreq(byte[] name) {
        byte[] ifr = new byte[LibC.IFREQ_SIZE];
        System.arraycopy(name, 0, ifr, 0, name.length);
        return ifr;
    }

    private static String ifName(byte[] ifr) {
        int len = 0;
        while (len < LibC.IFNAMSIZ && ifr[len] != 0) {
            len++;
        }
        return new String(ifr, 0, len, StandardCharsets.US_ASCII);
    }

    private static void putShort(byte[] b, int off, short v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }

    private static void putInt(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
        b[off + 2] = (byte) (v >>> 16);
        b[off + 3] = (byte) (v >>> 24);
    }

    private static void closeQuietly(int... fds) {
        for (int f : fds) {
            if (f >= 0) {
                LibC.close(f);
            }
        }
    }
}
