package io.wgcni.tun;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Keeps {@link TunIoBenchmark} working: a few rounds of each variant on a real TUN (no timing asserted). */
class TunIoBenchmarkTest {
    private final Namespaces fixture = new Namespaces();

    @BeforeEach
    void root() {
        Root.assumeTunAvailable();
    }

    @AfterEach
    void cleanup() throws Exception {
        try {
            fixture.cleanup();
        } finally {
            fixture.assertNothingLeft();
        }
    }

    @Test
    void everyVariantGetsItsAnswersBack() throws Exception {
        String ns = fixture.create();
        LinuxTun tun = fixture.closeLater(TunIoBenchmark.setUp(ns));
        TunIoBenchmark.run(tun.fd(), 20);
    }
}
