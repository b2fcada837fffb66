package dev.kiln.core.node;

/**
 * A node's bootstrap role, as the node agent sees it in metadata "role" and runs it as
 * /usr/lib/kiln/bootstrap/ROLE: the first master initialises the cluster, the other masters and the
 * workers join it.
 */
public enum Role {
    INIT_MASTER("init-master", true),
    JOIN_MASTER("join-master", true),
    JOIN_WORKER("join-worker", false);

    private final String wire;
    private final boolean master;

    Role(String wire, boolean master) {
        this.wire = wire;
        this.master = master;
    }

    public String wire() {
        return wire;
    }

    public boolean master() {
        return master;
    }

    /** The role of a master ({@code first}: the one that initialises) or of a worker. */
    public static Role of(boolean master, boolean first) {
        return !master ? JOIN_WORKER : first ? INIT_MASTER : JOIN_MASTER;
    }

    @Override
    public String toString() {
        return wire;
    }
}
