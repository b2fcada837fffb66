package dev.kiln.rollout.ec2;

import dev.kiln.aws.AwsErrors;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.autoscaling.AutoScalingClient;
import software.amazon.awssdk.services.autoscaling.model.AutoScalingGroup;
import software.amazon.awssdk.services.autoscaling.model.InstanceRefreshStatus;
import software.amazon.awssdk.services.autoscaling.model.LaunchTemplateSpecification;
import software.amazon.awssdk.services.autoscaling.model.RefreshStrategy;
import software.amazon.awssdk.services.autoscaling.model.StartInstanceRefreshRequest;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.LaunchTemplate;
import software.amazon.awssdk.services.ec2.model.RequestLaunchTemplateData;
import software.amazon.awssdk.services.ec2.model.ResponseLaunchTemplateData;

/**
 * A worker pool in an Auto Scaling group, moved to a new AMI the kiln way: a new launch template
 * version with only the image changed, set on the group, then instances replaced in budgeted
 * batches (terminated without lowering the desired capacity, so the group launches their
 * replacements from the new version) while those not yet replaced are protected from scale-in;
 * rollback sets the previous version again. The controller decides the batches and waits for the
 * nodes' phone-home; this class does the AWS side. Or, with {@code --strategy instance-refresh},
 * AWS's own instance refresh ({@link #instanceRefreshRequest}).
 */
public final class AsgPool {
    /** One version of the group's launch template. */
    public record TemplateVersion(String templateId, String templateName, long version, String imageId) {}

    /**
     * An instance of the group: the launch template version the group reports for it, its
     * lifecycle (Pending, InService, Terminating, ...), and the AMI it runs (from EC2: what counts
     * for "replaced").
     */
    public record Instance(
            String instanceId,
            String launchTemplateVersion,
            String lifecycleState,
            boolean protectedFromScaleIn,
            String imageId,
            String privateAddress) {}

    /** Instance refresh states in kiln's words. */
    public enum RefreshState {
        RUNNING,
        DONE,
        FAILED,
        CANCELLED,
        ROLLING_BACK,
        ROLLED_BACK
    }

    private final AutoScalingClient asg;
    private final Ec2Client ec2;
    private final String group;
    private final String where;
    private Poll poll = new Poll(Duration.ofSeconds(5), Duration.ofMinutes(10));

    /**
     * @param region for error messages
     */
    public AsgPool(AutoScalingClient asg, Ec2Client ec2, String group, String region) {
        this.asg = asg;
        this.ec2 = ec2;
        this.group = group;
        this.where = "region " + region;
    }

    /** How often and how long to wait for replacements to appear or come InService. */
    public AsgPool polling(Duration interval, Duration timeout) {
        this.poll = new Poll(interval, timeout);
        return this;
    }

    public String group() {
        return group;
    }

    private AutoScalingGroup describe() throws IOException {
        List<AutoScalingGroup> groups;
        try {
            groups = asg.describeAutoScalingGroups(r -> r.autoScalingGroupNames(group))
                    .autoScalingGroups();
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "describing Auto Scaling group " + group, where);
        }
        if (groups.isEmpty()) {
            throw new IOException("Auto Scaling group " + group + " does not exist in " + where);
        }
        return groups.get(0);
    }

    private LaunchTemplateSpecification spec(AutoScalingGroup g) throws IOException {
        if (g.launchTemplate() != null) {
            return g.launchTemplate();
        }
        throw new IOException("Auto Scaling group " + group + " in " + where
                + (g.mixedInstancesPolicy() != null
                        ? " uses a mixed instances policy, which kiln does not roll yet"
                        : " uses a launch configuration, not a launch template")
                + ": give it a launch template (launch configurations cannot take a new AMI version)");
    }

    /** The group's launch template and the version it launches now ($Default, $Latest resolved). */
    public TemplateVersion current() throws IOException {
        LaunchTemplateSpecification s = spec(describe());
        LaunchTemplate t = template(s);
        long v = resolve(t, s.version());
        return new TemplateVersion(
                t.launchTemplateId(), t.launchTemplateName(), v, data(t, v).imageId());
    }

    private LaunchTemplate template(LaunchTemplateSpecification s) throws IOException {
        try {
            return ec2.describeLaunchTemplates(r -> {
                        if (s.launchTemplateId() != null) {
                            r.launchTemplateIds(s.launchTemplateId());
                        } else {
                            r.launchTemplateNames(s.launchTemplateName());
                        }
                    })
                    .launchTemplates()
                    .get(0);
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "describing the launch template of group " + group, where);
        }
    }

    private static long resolve(LaunchTemplate t, String version) {
        if (version == null || version.equals("$Default")) {
            return t.defaultVersionNumber();
        }
        if (version.equals("$Latest")) {
            return t.latestVersionNumber();
        }
        return Long.parseLong(version);
    }

    private ResponseLaunchTemplateData data(LaunchTemplate t, long version) throws IOException {
        try {
            return ec2.describeLaunchTemplateVersions(
                            r -> r.launchTemplateId(t.launchTemplateId()).versions(Long.toString(version)))
                    .launchTemplateVersions()
                    .get(0)
                    .launchTemplateData();
        } catch (SdkException e) {
            throw AwsErrors.explain(
                    e, "reading version " + version + " of launch template " + t.launchTemplateName(), where);
        }
    }

    /**
     * A new version of the group's launch template: the current version with only the AMI changed.
     * AWS copies the rest from SourceVersion; the data is copied here as well, field by field, so
     * the result is the same where SourceVersion is not honoured (moto ignores it).
     */
    public TemplateVersion newVersionWithAmi(String amiId) throws IOException {
        TemplateVersion from = current();
        LaunchTemplate t = template(LaunchTemplateSpecification.builder()
                .launchTemplateId(from.templateId())
                .build());
        RequestLaunchTemplateData.Builder data = RequestLaunchTemplateData.builder();
        SdkCopy.into(data, data(t, from.version()));
        data.imageId(amiId);
        try {
            long v = ec2.createLaunchTemplateVersion(r -> r.launchTemplateId(from.templateId())
                            .sourceVersion(Long.toString(from.version()))
                            .versionDescription(description(from.version(), amiId))
                            .launchTemplateData(data.build()))
                    .launchTemplateVersion()
                    .versionNumber();
            return new TemplateVersion(from.templateId(), from.templateName(), v, amiId);
        } catch (SdkException e) {
            throw AwsErrors.explain(
                    e, "creating a version of launch template " + from.templateName() + " with " + amiId, where);
        }
    }

    /**
     * The version {@link #newVersionWithAmi} made earlier from version {@code from} with {@code
     * amiId} (found by the description it gives them), or null: a rollout resumed after a restart
     * takes it instead of making another.
     */
    public TemplateVersion versionMadeFrom(long from, String amiId) throws IOException {
        LaunchTemplateSpecification s = spec(describe());
        LaunchTemplate t = template(s);
        String description = description(from, amiId);
        try {
            TemplateVersion found = null;
            for (var v : ec2.describeLaunchTemplateVersionsPaginator(r -> r.launchTemplateId(t.launchTemplateId()))
                    .launchTemplateVersions()) {
                if (description.equals(v.versionDescription())
                        && v.launchTemplateData() != null
                        && amiId.equals(v.launchTemplateData().imageId())
                        && (found == null || v.versionNumber() > found.version())) {
                    found = new TemplateVersion(t.launchTemplateId(), t.launchTemplateName(), v.versionNumber(), amiId);
                }
            }
            return found;
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "listing the versions of launch template " + t.launchTemplateName(), where);
        }
    }

    private static String description(long from, String amiId) {
        return "kiln rollout: version " + from + " with AMI " + amiId;
    }

    /** The group launches new instances from this version. */
    public void setVersion(TemplateVersion v) throws IOException {
        try {
            asg.updateAutoScalingGroup(r -> r.autoScalingGroupName(group)
                    .launchTemplate(l -> l.launchTemplateId(v.templateId()).version(Long.toString(v.version()))));
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "setting launch template version " + v.version() + " on group " + group, where);
        }
    }

    /** Rollback: the group launches from the previous version again (its instances are the controller's). */
    public void rollback(TemplateVersion previous) throws IOException {
        setVersion(previous);
    }

    public void protectFromScaleIn(Collection<String> instanceIds, boolean protect) throws IOException {
        if (instanceIds.isEmpty()) {
            return;
        }
        try {
            asg.setInstanceProtection(
                    r -> r.autoScalingGroupName(group).instanceIds(instanceIds).protectedFromScaleIn(protect));
        } catch (SdkException e) {
            throw AwsErrors.explain(
                    e, (protect ? "protecting " : "unprotecting ") + instanceIds + " in group " + group, where);
        }
    }

    /** The group's instances, with the AMI each runs. */
    public List<Instance> instances() throws IOException {
        AutoScalingGroup g = describe();
        Map<String, software.amazon.awssdk.services.ec2.model.Instance> byId = new HashMap<>();
        List<String> ids = g.instances().stream()
                .map(software.amazon.awssdk.services.autoscaling.model.Instance::instanceId)
                .toList();
        if (!ids.isEmpty()) {
            try {
                ec2.describeInstancesPaginator(r -> r.instanceIds(ids))
                        .reservations()
                        .forEach(res -> res.instances().forEach(i -> byId.put(i.instanceId(), i)));
            } catch (SdkException e) {
                throw AwsErrors.explain(e, "describing the instances of group " + group, where);
            }
        }
        List<Instance> out = new ArrayList<>();
        for (var i : g.instances()) {
            var e = byId.get(i.instanceId());
            out.add(new Instance(
                    i.instanceId(),
                    i.launchTemplate() == null ? null : i.launchTemplate().version(),
                    i.lifecycleStateAsString(),
                    Boolean.TRUE.equals(i.protectedFromScaleIn()),
                    e == null ? null : e.imageId(),
                    e == null ? null : e.privateIpAddress()));
        }
        return out;
    }

    /**
     * Terminates these instances without lowering the desired capacity, and returns once the group
     * has launched as many new ones (not yet InService: {@link #awaitInService}).
     */
    public List<Instance> replace(Collection<String> instanceIds) throws IOException, InterruptedException {
        Set<String> before = new HashSet<>();
        instances().forEach(i -> before.add(i.instanceId()));
        for (String id : instanceIds) {
            if (!before.contains(id)) {
                throw new IOException("instance " + id + " is not in Auto Scaling group " + group);
            }
            try {
                asg.terminateInstanceInAutoScalingGroup(r -> r.instanceId(id).shouldDecrementDesiredCapacity(false));
            } catch (SdkException e) {
                throw AwsErrors.explain(e, "terminating " + id + " in group " + group, where);
            }
        }
        return poll.until(instanceIds.size() + " replacement(s) for " + instanceIds + " in group " + group, () -> {
            List<Instance> fresh = instances().stream()
                    .filter(i -> !before.contains(i.instanceId()))
                    .toList();
            return fresh.size() >= instanceIds.size() ? fresh : null;
        });
    }

    /** Waits until these instances of the group are InService. */
    public void awaitInService(Collection<String> instanceIds) throws IOException, InterruptedException {
        poll.until("instances " + instanceIds + " of group " + group + " to be InService", () -> {
            long in = instances().stream()
                    .filter(i -> instanceIds.contains(i.instanceId()) && "InService".equals(i.lifecycleState()))
                    .count();
            return in == instanceIds.size() ? Boolean.TRUE : null;
        });
    }

    /**
     * Waits until the group has as many instances as it wants, all InService on {@code amiId};
     * returns how many.
     */
    public int awaitAllOn(String amiId) throws IOException, InterruptedException {
        return poll.until("every instance of group " + group + " InService on " + amiId, () -> {
            int want = describe().desiredCapacity();
            List<Instance> all = instances();
            boolean whole = all.size() == want
                    && all.stream().allMatch(i -> amiId.equals(i.imageId()) && "InService".equals(i.lifecycleState()));
            return whole ? all.size() : null;
        });
    }

    // --- --strategy instance-refresh ---------------------------------------------------------

    /**
     * AWS's instance refresh to {@code target}: at least {@code 100 - maxUnavailablePercent} percent
     * of the group stays healthy, instances already on the target are skipped, and a failed refresh
     * rolls itself back to the previous configuration.
     *
     * @param warmup how long a new instance gets before it counts as healthy; null for the group's
     */
    public StartInstanceRefreshRequest instanceRefreshRequest(
            int maxUnavailablePercent, TemplateVersion target, Duration warmup) {
        if (maxUnavailablePercent < 1 || maxUnavailablePercent > 100) {
            throw new IllegalArgumentException("the budget for instance refresh is a percentage of the group from 1"
                    + " to 100, got " + maxUnavailablePercent);
        }
        return StartInstanceRefreshRequest.builder()
                .autoScalingGroupName(group)
                .strategy(RefreshStrategy.ROLLING)
                .desiredConfiguration(d -> d.launchTemplate(
                        l -> l.launchTemplateId(target.templateId()).version(Long.toString(target.version()))))
                .preferences(p -> {
                    p.minHealthyPercentage(100 - maxUnavailablePercent)
                            .autoRollback(true)
                            .skipMatching(true);
                    if (warmup != null) {
                        p.instanceWarmup((int) warmup.toSeconds());
                    }
                })
                .build();
    }

    /** Starts an instance refresh; returns its id. (Not in moto: untested against an emulator.) */
    public String startInstanceRefresh(StartInstanceRefreshRequest request) throws IOException {
        try {
            return asg.startInstanceRefresh(request).instanceRefreshId();
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "starting an instance refresh of group " + group, where);
        }
    }

    /** The state of an instance refresh. (Not in moto: untested against an emulator.) */
    public RefreshState refreshState(String refreshId) throws IOException {
        try {
            var r = asg.describeInstanceRefreshes(
                            d -> d.autoScalingGroupName(group).instanceRefreshIds(refreshId))
                    .instanceRefreshes();
            if (r.isEmpty()) {
                throw new IOException("instance refresh " + refreshId + " of group " + group + " not found");
            }
            return state(r.get(0).status());
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "reading instance refresh " + refreshId + " of group " + group, where);
        }
    }

    /** AWS's instance refresh status in kiln's words; an unknown one is an error, never "done". */
    public static RefreshState state(InstanceRefreshStatus status) {
        return switch (status) {
            case PENDING, IN_PROGRESS, BAKING -> RefreshState.RUNNING;
            case SUCCESSFUL -> RefreshState.DONE;
            case FAILED, ROLLBACK_FAILED -> RefreshState.FAILED;
            case CANCELLING, CANCELLED -> RefreshState.CANCELLED;
            case ROLLBACK_IN_PROGRESS -> RefreshState.ROLLING_BACK;
            case ROLLBACK_SUCCESSFUL -> RefreshState.ROLLED_BACK;
            case UNKNOWN_TO_SDK_VERSION ->
                throw new IllegalArgumentException(
                        "an instance refresh status this SDK does not know; look at the group in the AWS console");
        };
    }
}
