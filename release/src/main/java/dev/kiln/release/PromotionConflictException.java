package dev.kiln.release;

/**
 * Another promotion or rollback of the same environment was recorded between reading the history
 * and writing to it. This one was not applied: its gates were evaluated on a state that is gone.
 * The attempt is in the history as a conflict event.
 */
public final class PromotionConflictException extends Exception {
    private final Event winner;
    private final Event attempt;

    public PromotionConflictException(Event attempt, Event winner) {
        super("conflict: "
                + attempt.env()
                + " of "
                + attempt.image()
                + " was changed at the same moment by "
                + winner.by()
                + " (event #"
                + winner.seq()
                + ": "
                + winner.type()
                + " to "
                + winner.version()
                + " at "
                + winner.at()
                + "); "
                + attempt.image()
                + ":"
                + attempt.version()
                + " was NOT promoted (the attempt is recorded as event #"
                + attempt.seq()
                + "). Check kiln channels "
                + attempt.image()
                + " and run it again if it is still wanted");
        this.winner = winner;
        this.attempt = attempt;
    }

    public Event winner() {
        return winner;
    }

    /** The conflict event recorded for this attempt. */
    public Event attempt() {
        return attempt;
    }
}
