package io.wgcni.cni;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.BufferedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** The executable's entry point: {@code bin/wireguard} runs it with the CNI environment and stdin. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out)),
                false, StandardCharsets.UTF_8);
        int status = Plugin.run(System.getenv(), System.in, out, System.err);
        out.flush();
        // halt, not exit: nothing is left to clean up, and shutdown hooks only cost time.
        Runtime.getRuntime().halt(out.checkError() ? 1 : status);
    }
}
