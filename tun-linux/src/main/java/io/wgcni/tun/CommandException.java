package io.wgcni.tun;

import java.io.IOException;
import java.util.List;

/** A configuration command that failed: carries the command line, its exit status and what it printed on stderr. */
public final class CommandException extends IOException {
    private static final long serialVersionUID = 1L;

    private final List<String> command;
    private final int exitCode;
    private final String stderr;

    public CommandException(List<String> command, int exitCode, String stderr) {
        super("`" + String.join(" ", command) + "` exited with " + exitCode
                + (stderr.isBlank() ? "" : ": " + stderr.strip()));
        this.command = List.copyOf(command);
        this.exitCode = exitCode;
        this.stderr = stderr;
    }

    public List<String> command() {
        return command;
    }

    /** The exit status, or -1 when the command did not finish in time. */
    public int exitCode() {
        return exitCode;
    }

    public String stderr() {
        return stderr;
    }
}
