package io.wgcni.tun;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The namespaces and host links one test made, removed after it: deleting a namespace removes every link in it.
 * A test class holds one in a {@code @RegisterExtension} field; before each test it skips unless the machine can
 * make TUNs and namespaces, after each it removes what the test made and fails the test if anything is left.
 */
public final class Namespaces implements BeforeEachCallback, AfterEachCallback {
    private final List<String> namespaces = new ArrayList<>();
    private final List<String> hostLinks = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    /** A new, empty namespace named wgtun-xxxxxx. */
    public String create() throws IOException {
        return create("wgtun-");
    }

    /** A new, empty namespace named prefix + a random suffix. */
    public String create(String prefix) throws IOException {
        String name = Root.unique(prefix);
        Netns.add(name);
        namespaces.add(name);
        return name;
    }

    /** A link in the host namespace to delete at the end if it still exists. */
    public String hostLink(String name) {
        hostLinks.add(name);
        return name;
    }

    public <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    public List<String> created() {
        return List.copyOf(namespaces);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Root.assumeTunAvailable();
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        try {
            cleanup();
        } finally {
            assertNothingLeft();
        }
    }

    private void cleanup() throws Exception {
        List<Exception> failures = new ArrayList<>();
        for (AutoCloseable c : closeables.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                failures.add(e);
            }
        }
        for (String link : hostLinks) {
            try {
                if (Links.host().exists(link)) {
                    Links.host().delete(link);
                }
            } catch (IOException e) {
                failures.add(e);
            }
        }
        for (String ns : namespaces) {
            try {
                if (Netns.exists(ns)) {
                    Netns.delete(ns);
                }
            } catch (IOException e) {
                failures.add(e);
            }
        }
        closeables.clear();
        if (!failures.isEmpty()) {
            Exception first = failures.getFirst();
            failures.stream().skip(1).forEach(first::addSuppressed);
            throw first;
        }
    }

    /** Asserts that none of the namespaces and host links made here are left. */
    private void assertNothingLeft() throws IOException {
        for (String ns : namespaces) {
            if (Netns.exists(ns)) {
                throw new AssertionError("namespace " + ns + " left behind");
            }
        }
        for (String link : hostLinks) {
            if (Links.host().exists(link)) {
                throw new AssertionError("link " + link + " left behind");
            }
        }
    }
}
