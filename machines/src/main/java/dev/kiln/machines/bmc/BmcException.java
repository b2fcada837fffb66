package dev.kiln.machines.bmc;

import java.io.IOException;

/** A BMC refused or did not answer; the message names node, BMC address and what the BMC said. */
public class BmcException extends IOException {
    /**
     * Why: a wrong password is not retried (that locks accounts), an unreachable BMC is, boundedly.
     */
    public enum Kind {
        AUTH,
        UNREACHABLE,
        REFUSED
    }

    private final Kind kind;

    public BmcException(BmcEndpoint bmc, Kind kind, String message) {
        super(bmc.who() + ": " + message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
