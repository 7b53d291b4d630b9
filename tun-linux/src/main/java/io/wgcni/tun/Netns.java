package io.wgcni.tun;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Network namespaces. {@link #inNamespace} runs code inside another namespace on a thread of its own; the other
 * methods add, list and delete named namespaces (those under {@code /var/run/netns}, as {@code ip netns} does).
 *
 * <p>Why a dedicated thread: {@code setns(CLONE_NEWNET)} moves only the calling thread, and a thread left in a
 * foreign namespace and returned to a pool would open every later socket there. So the body runs on a new
 * platform thread (a virtual thread could move between carriers) that enters the namespace, runs the body and
 * exits; it never goes back. What the body created keeps its namespace: a socket or a TUN file descriptor belongs
 * to the namespace it was opened in, whichever thread uses it later.
 */
public final class Netns {
    static final Path RUN_DIR = Path.of("/var/run/netns");

    private Netns() {
    }

    /** The namespace file for a name ({@code /var/run/netns/NAME}) or a path (anything with a '/'). */
    public static Path path(String nameOrPath) {
        if (nameOrPath.isEmpty()) {
            throw new IllegalArgumentException("empty namespace name");
        }
        return nameOrPath.indexOf('/') >= 0 ? Path.of(nameOrPath) : RUN_DIR.resolve(nameOrPath);
    }

    /**
     * Runs {@code body} inside the namespace {@code nsPathOrName} and returns its result. The body's exceptions are
     * rethrown as they are (checked ones other than IOException wrapped in an IOException). Blocks the caller until
     * the body has finished.
     */
    public static <T> T inNamespace(String nsPathOrName, Callable<T> body) throws IOException {
        Path ns = path(nsPathOrName);
        Object[] result = new Object[1];
        Throwable[] failure = new Throwable[1];
        Thread t = Thread.ofPlatform().name("netns " + nsPathOrName).daemon(true).unstarted(() -> {
            try {
                enter(ns);
                result[0] = body.call();
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        t.start();
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                // The body may be creating a device: wait for it, so that nothing is left half made.
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable e = failure[0];
        if (e == null) {
            @SuppressWarnings("unchecked")
            T r = (T) result[0];
            return r;
        }
        if (e instanceof IOException io) {
            throw io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
        throw new IOException(e);
    }

    /**
     * {@link #inNamespace} with a deadline: when the body has not finished within {@code deadline}, the caller gets
     * an IOException at once instead of waiting (a hung command must not hold up everything queued behind it),
     * and whatever the body returns later is handed to {@code late} (to remove a device it made after all). The
     * body's thread is interrupted but left to finish.
     */
    public static <T> T inNamespace(String nsPathOrName, java.time.Duration deadline, Callable<T> body,
            java.util.function.Consumer<? super T> late) throws IOException {
        Path ns = path(nsPathOrName);
        java.util.concurrent.CompletableFuture<T> done = new java.util.concurrent.CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("netns " + nsPathOrName).daemon(true).unstarted(() -> {
            try {
                enter(ns);
                T r = body.call();
                if (!done.complete(r) && r != null) {
                    late.accept(r);
                }
            } catch (Throwable e) {
                done.completeExceptionally(e);
            }
        });
        t.start();
        try {
            return done.get(deadline.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            if (done.completeExceptionally(e)) {
                t.interrupt();
                throw new IOException("the work in network namespace " + nsPathOrName + " did not finish within "
                        + deadline.toMillis() + " ms");
            }
            return inNamespaceResult(done); // finished just now
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (done.completeExceptionally(e)) {
                t.interrupt();
                throw new java.io.InterruptedIOException("interrupted waiting for network namespace " + nsPathOrName);
            }
            return inNamespaceResult(done);
        } catch (java.util.concurrent.ExecutionException e) {
            throw rethrow(e.getCause());
        }
    }

    private static <T> T inNamespaceResult(java.util.concurrent.CompletableFuture<T> done) throws IOException {
        try {
            return done.getNow(null);
        } catch (java.util.concurrent.CompletionException e) {
            throw rethrow(e.getCause());
        }
    }

    private static IOException rethrow(Throwable e) {
        if (e instanceof IOException io) {
            return io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
        return new IOException(e);
    }

    /** {@link #inNamespace} for a body without a result. */
    public static void runIn(String nsPathOrName, ThrowingRunnable body) throws IOException {
        inNamespace(nsPathOrName, () -> {
            body.run();
            return null;
        });
    }

    @FunctionalInterface
    public interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Moves the calling thread into the namespace at {@code ns}. */
    private static void enter(Path ns) throws IOException {
        int fd;
        try {
            fd = LibC.open(ns.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new IOException(LibC.error("open " + ns, e));
        }
        try {
            LibC.setns(fd, LibC.CLONE_NEWNET);
        } catch (LastErrorException e) {
            throw new IOException(LibC.error("setns " + ns, e));
        } finally {
            LibC.close(fd);
        }
    }

    /** Creates a named namespace ({@code ip netns add NAME}). */
    public static void add(String name) throws IOException {
        Links.check(List.of(Links.ipCommand(), "netns", "add", name));
    }

    /** Deletes a named namespace ({@code ip netns delete NAME}); its links go with it. */
    public static void delete(String name) throws IOException {
        Links.check(List.of(Links.ipCommand(), "netns", "delete", name));
    }

    /**
     * True when {@code nsPathOrName} is a network namespace file (an nsfs file of type {@code CLONE_NEWNET}):
     * false for a missing file, a plain file, or another kind of namespace. Asks the kernel ({@code
     * NS_GET_NSTYPE}); nothing is entered.
     */
    public static boolean isNetworkNamespace(String nsPathOrName) {
        int fd;
        try {
            fd = LibC.open(path(nsPathOrName).toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        } catch (LastErrorException | IllegalArgumentException e) {
            return false;
        }
        try {
            return LibC.ioctl(fd, LibC.NS_GET_NSTYPE, 0L) == LibC.CLONE_NEWNET;
        } catch (LastErrorException e) {
            return false; // ENOTTY: not a namespace file
        } finally {
            LibC.close(fd);
        }
    }

    public static boolean exists(String name) {
        return Files.exists(path(name));
    }

    /** The named namespaces. */
    public static List<String> list() throws IOException {
        List<String> names = new ArrayList<>();
        if (Files.isDirectory(RUN_DIR)) {
            try (var s = Files.list(RUN_DIR)) {
                s.forEach(p -> names.add(p.getFileName().toString()));
            }
        }
        names.sort(null);
        return names;
    }
}
