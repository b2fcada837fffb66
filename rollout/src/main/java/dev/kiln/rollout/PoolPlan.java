package dev.kiln.rollout;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * What a pool rollout will do (kiln rollout plan --pool): a new version of the group's launch
 * template with only the AMI changed, then the group's instances not yet on that AMI replaced in
 * batches within the budget (or, with strategy instance-refresh, AWS's instance refresh). Applying it
 * is refused when the group changed since (another template version, other instances).
 *
 * @param fromTemplateVersion the template version the group launches from now (a rollback sets it
 *     again)
 * @param batches instance ids, in the order they are replaced
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PoolPlan(
        int schema,
        String cluster,
        String pool,
        String group,
        String region,
        String strategy,
        String target,
        String templateId,
        long fromTemplateVersion,
        String fromAmi,
        String toAmi,
        int maxUnavailable,
        String budget,
        long timeoutSeconds,
        List<List<String>> batches,
        List<String> blockers,
        List<String> notes,
        String createdAt) {
    public static final int SCHEMA = 1;

    public PoolPlan {
        batches = batches == null ? List.of() : List.copyOf(batches);
        blockers = blockers == null ? List.of() : List.copyOf(blockers);
        notes = notes == null ? List.of() : List.copyOf(notes);
    }

    public boolean blocked() {
        return !blockers.isEmpty();
    }

    /** Every instance to replace, in order. */
    public List<String> instances() {
        return batches.stream().flatMap(List::stream).toList();
    }
}
