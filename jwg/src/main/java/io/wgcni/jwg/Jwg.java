package io.wgcni.jwg;

import io.wgcni.tun.LinuxTun;
import io.wgcni.tun.NettyBind;
import io.wgcni.tun.Rehearsal;
import io.wgcni.tun.UdpBind;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.io.Bind;
import io.wgcni.wg.time.SystemClock;
import io.wgcni.wg.uapi.UapiServer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code jwg}: a userspace WireGuard interface, driven by {@code wg} and {@code wg-quick} like wireguard-go.
 * Creates the TUN device and the UAPI socket, then runs until SIGINT or SIGTERM, until someone deletes the
 * socket, or until someone deletes the link; on the way out it removes what it created. The launcher script
 * ({@code bin/jwg}) detaches it unless {@code -f} is given.
 */
public final class Jwg {
    private static final Logger log = LoggerFactory.getLogger(Jwg.class);
    static final int DEFAULT_MTU = 1420;
    private static final long WATCH_MILLIS = 250;
    /** The in-memory rehearsal before the interface appears (a cold JIT otherwise slows the first seconds). */
    static final long WARMUP_MIN_MILLIS = 400;
    static final long WARMUP_MAX_MILLIS = 2500;

    private Jwg() {}

    public static void main(String[] args) {
        String name = null;
        for (String a : args) {
            switch (a) {
                case "-f", "--foreground" -> { } // detaching is the launcher's job
                case "--version", "-v" -> {
                    System.out.println("jwg " + version() + " (userspace WireGuard in Java)");
                    return;
                }
                case "-h", "--help" -> {
                    usage();
                    return;
                }
                default -> {
                    if (a.startsWith("-") || name != null) {
                        usage();
                        System.exit(2);
                    }
                    name = a;
                }
            }
        }
        if (name == null) {
            usage();
            System.exit(2);
        }
        int code = run(name);
        if (code >= 0) {
            System.exit(code);
        }
    }

    /** The UDP side: {@link UdpBind}, or Netty's (for comparison) with {@code -Dwgcni.udp.bind=netty}. */
    private static Bind bind() {
        return "netty".equals(System.getProperty("wgcni.udp.bind")) ? new NettyBind() : new UdpBind();
    }

    /** What the kernel took of the offloads, for the log: "tun tso+uso, udp gso+gro" or "none". */
    static String offloads(LinuxTun tun, Bind bind) {
        StringBuilder s = new StringBuilder();
        if (tun.tcpOffload()) {
            s.append(tun.udpOffload() ? "tun tso+uso" : "tun tso");
        }
        if (bind instanceof UdpBind u && (u.gso() || u.gro())) {
            s.append(s.isEmpty() ? "" : ", ").append("udp ").append(u.gso() ? (u.gro() ? "gso+gro" : "gso") : "gro");
        }
        return s.isEmpty() ? "none" : s.toString();
    }

    private static void usage() {
        System.err.println("Usage: jwg [-f/--foreground] INTERFACE-NAME");
    }

    private static String version() {
        String v = Jwg.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /**
     * Runs the interface until told to stop. Returns the exit code, or -1 when a signal stopped it: the JVM is
     * then already shutting down and must not be asked to exit again.
     */
    static int run(String name) {
        if (!"false".equals(System.getProperty("wgcni.warmup"))) {
            long t0 = System.nanoTime();
            long n = Rehearsal.run(WARMUP_MIN_MILLIS, WARMUP_MAX_MILLIS);
            log.debug("{}: rehearsed the data path ({} rounds, {} ms)", name, n,
                    (System.nanoTime() - t0) / 1_000_000);
        }
        LinuxTun tun;
        try {
            tun = LinuxTun.create(name, DEFAULT_MTU);
        } catch (Exception e) {
            log.error("Failed to create TUN device {}: {}", name, e.getMessage());
            return 1;
        }
        Bind bind = bind();
        Device device = new Device(tun.name(), tun, bind, SystemClock.INSTANCE);
        UapiServer uapi;
        try {
            device.up();
            uapi = UapiServer.start(device, UapiServer.DEFAULT_DIRECTORY);
        } catch (Exception e) {
            log.error("Failed to start {}: {}", tun.name(), e.getMessage());
            device.close();
            return 1;
        }
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean signalled = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            signalled.set(true);
            stop.countDown();
            try {
                stopped.await(10, TimeUnit.SECONDS); // let the main thread remove what it created
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "jwg-shutdown"));
        log.info("{}: running, UAPI socket {}; offloads: {}", tun.name(), uapi.path(), offloads(tun, bind));
        try {
            while (!stop.await(WATCH_MILLIS, TimeUnit.MILLISECONDS)) {
                if (!uapi.socketPresent()) {
                    log.info("{}: UAPI socket removed, shutting down", tun.name());
                    break;
                }
                if (tun.isRemoved()) {
                    log.info("{}: interface deleted, shutting down", tun.name());
                    break;
                }
                tun.refreshMtu(); // wg-quick sets the MTU after we created the interface
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.io.IOException e) {
            log.info("{}: interface gone ({}), shutting down", tun.name(), e.getMessage());
        }
        log.info("{}: shutting down", tun.name());
        uapi.close();
        device.close();
        stopped.countDown();
        return signalled.get() ? -1 : 0;
    }
}
