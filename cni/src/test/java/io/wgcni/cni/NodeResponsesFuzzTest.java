package io.wgcni.cni;

import io.wgcni.api.fuzz.Fuzzer;
import io.wgcni.api.node.v1.CniResponse;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Mutated node-manager answers through the plugin's own protobuf decoder (it carries no protobuf-java): it
 * returns a response or throws MalformedException, nothing else; and it never accepts what protobuf-java, the
 * reference, refuses.
 */
class NodeResponsesFuzzTest {
    @Test
    void ciRun() throws Exception {
        fuzz(Fuzzer.ci(), 15);
    }

    @Test
    @Tag("nightly")
    void nightlyRun() throws Exception {
        fuzz(Fuzzer.nightly(), System.nanoTime());
    }

    private static void fuzz(Duration budget, long seed) throws Exception {
        Fuzzer.run("node-responses", Fuzzer.corpus(NodeResponsesFuzzTest.class, "node-responses"), budget, seed,
                input -> {
                    NodeMessages.Response ours;
                    try {
                        ours = NodeMessages.response(input);
                    } catch (NodeMessages.MalformedException e) {
                        return;
                    }
                    try {
                        CniResponse.parseFrom(input);
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        throw new AssertionError("the plugin accepted (" + ours + ") what protobuf refuses: "
                                + e.getMessage());
                    }
                });
    }
}
