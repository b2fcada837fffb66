package dev.kiln.rollout.ec2;

import dev.kiln.aws.AwsErrors;
import dev.kiln.core.store.ImageRef;
import dev.kiln.fleet.Inventory;
import dev.kiln.rollout.NodeReplacer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesRequest;
import software.amazon.awssdk.services.ec2.model.HttpTokensState;
import software.amazon.awssdk.services.ec2.model.IamInstanceProfileSpecification;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceMetadataEndpointState;
import software.amazon.awssdk.services.ec2.model.LocationType;
import software.amazon.awssdk.services.ec2.model.NetworkInterface;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.RunInstancesRequest;
import software.amazon.awssdk.services.ec2.model.Subnet;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/**
 * Replaces the EC2 instance of an inventory node: terminates the node's instance (found by its tags
 * {@code kiln:cluster}/{@code kiln:node}), waits until it is gone so its private address is free,
 * and launches a new one from the target AMI at the same address, with IMDSv2 required, the node's
 * metadata document as user data ({@link Ec2UserData}) and kiln's tags. A node without an instance
 * is simply launched (a cluster brought up from nothing). One replacer per cluster.
 */
public final class Ec2Replacer implements NodeReplacer {
    /** A launch whose address is still held by the instance just terminated is tried again. */
    private static final String ADDRESS_IN_USE = "InvalidIPAddress.InUse";

    private static final int MAX_TOKEN_ATTEMPTS = 5;

    private final Inventory.Aws aws;
    private final Ec2Client ec2;
    private final Ec2UserData.Source userData;
    private final String rolloutId;
    private final String where;
    private final Map<String, Integer> attempts = new ConcurrentHashMap<>();
    private Poll poll = new Poll(Duration.ofSeconds(5), Duration.ofMinutes(10));

    /**
     * @param aws the cluster's {@code aws:} entry (the client must be for its region)
     * @param userData a node's user data by its MAC
     * @param rolloutId the rollout this replacer works for: part of each launch's ClientToken, so a
     *     retried launch of the same attempt is idempotent on AWS, and a later rollout launches anew
     */
    public Ec2Replacer(Inventory.Aws aws, Ec2Client ec2, Ec2UserData.Source userData, String rolloutId) {
        this.aws = aws;
        this.ec2 = ec2;
        this.userData = userData;
        this.rolloutId = rolloutId == null ? "" : rolloutId;
        this.where = "region " + aws.region();
    }

    /** How often and how long to wait for an instance to terminate (default 5 s, 10 min). */
    public Ec2Replacer polling(Duration interval, Duration timeout) {
        this.poll = new Poll(interval, timeout);
        return this;
    }

    // --- blockers ------------------------------------------------------------------------

    @Override
    public String blocker(Node node) throws InterruptedException {
        String who = "node " + node.name() + " (cluster " + node.cluster() + ", region " + aws.region() + ")";
        List<String> problems = new ArrayList<>();
        List<Instance> own;
        Subnet subnet;
        try {
            own = instancesOf(node.cluster(), node.name(), Ec2Tags.ALIVE);
            subnet = subnet();
        } catch (IOException e) {
            return who + ": " + e.getMessage();
        }
        if (subnet == null) {
            problems.add("subnet " + aws.subnetId() + " does not exist in region " + aws.region()
                    + ": fix aws.subnetId of cluster " + node.cluster() + " in the inventory");
        }
        boolean amiThere = checkAmi(node, problems);
        checkPermissions(node, own, amiThere, problems);
        if (subnet != null) {
            checkAddress(node, subnet, own, problems);
            checkInstanceType(subnet, problems);
        }
        return problems.isEmpty() ? null : who + ": " + String.join("; ", problems);
    }

    private Subnet subnet() throws IOException {
        try {
            List<Subnet> s =
                    ec2.describeSubnets(r -> r.subnetIds(aws.subnetId())).subnets();
            return s.isEmpty() ? null : s.get(0);
        } catch (SdkException e) {
            if (AwsErrors.is(e, "InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed")) {
                return null;
            }
            throw AwsErrors.explain(e, "reading subnet " + aws.subnetId(), where);
        }
    }

    private boolean checkAmi(Node node, List<String> problems) {
        String ami = node.artifact();
        if (ami == null) {
            problems.add(
                    "no AMI was resolved for " + node.to() + " (the plan gives every EC2 target a concrete AMI id)");
            return false;
        }
        try {
            List<Image> images = ec2.describeImages(r -> r.imageIds(ami)).images();
            if (images.isEmpty()) {
                problems.add(amiMissing(node, ami));
                return false;
            }
            String state = images.get(0).stateAsString();
            if (!"available".equals(state)) {
                problems.add("AMI " + ami + " of " + node.to() + " is " + state + ", not available: wait for it, or"
                        + " publish again (kiln publish --ami --region " + aws.region() + ")");
                return false;
            }
            return true;
        } catch (SdkException e) {
            if (AwsErrors.is(e, "InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable")) {
                problems.add(amiMissing(node, ami));
            } else {
                problems.add("cannot check AMI " + ami + ": "
                        + AwsErrors.explain(e, "describing AMI " + ami, where).getMessage());
            }
            return false;
        }
    }

    private String amiMissing(Node node, String ami) {
        return "AMI " + ami + " of " + node.to() + " is not in region " + aws.region()
                + ": publish it there (kiln publish --ami --region " + aws.region() + ", or --copy-to "
                + aws.region() + ") and plan again";
    }

    /**
     * DryRun calls: AWS answers DryRunOperation when the call would be allowed, UnauthorizedOperation
     * when the credentials lack the permission, and otherwise the error the real call would get (a
     * missing security group or instance profile).
     */
    private void checkPermissions(Node node, List<Instance> own, boolean amiThere, List<String> problems) {
        if (amiThere) {
            dryRun(
                    "ec2:RunInstances (with ec2:CreateTags on launch, and iam:PassRole for the instance profile)",
                    problems,
                    // Without the address: it has its own check.
                    () -> ec2.runInstances(launchRequest(node, "", null, false).toBuilder()
                            .dryRun(true)
                            .build()));
        }
        if (!own.isEmpty()) {
            dryRun(
                    "ec2:TerminateInstances",
                    problems,
                    () -> ec2.terminateInstances(r -> r.instanceIds(ids(own)).dryRun(true)));
        }
    }

    private void dryRun(String action, List<String> problems, Runnable call) {
        try {
            call.run();
            problems.add(action + ": the DryRun call was carried out instead of refused as a dry run");
        } catch (SdkException e) {
            if (AwsErrors.is(e, "DryRunOperation")) {
                return;
            }
            if (AwsErrors.is(e, "UnauthorizedOperation", "AccessDenied", "AccessDeniedException")) {
                problems.add("the credentials of kiln serve may not call " + action + ": allow it in their IAM policy ("
                        + AwsErrors.code(e) + ")");
            } else {
                problems.add(action + " would fail: "
                        + AwsErrors.explain(e, "a DryRun of " + action, where).getMessage()
                        + "; fix the cluster's aws: entry");
            }
        }
    }

    private void checkAddress(Node node, Subnet subnet, List<Instance> own, List<String> problems) {
        String address = node.address();
        String cidr = subnet.cidrBlock();
        if (!Ipv4.inSubnet(address, cidr)) {
            problems.add("address " + address + " is not in subnet " + aws.subnetId() + " (" + cidr
                    + "): give the node an address in it, or the cluster another aws.subnetId");
            return;
        }
        if (Ipv4.reservedInSubnet(address, cidr)) {
            problems.add("address " + address + " is one AWS reserves in subnet " + aws.subnetId() + " (" + cidr
                    + ": the first four and the last): give the node another address");
            return;
        }
        Set<String> ownIds = Set.copyOf(ids(own));
        try {
            List<NetworkInterface> enis = ec2.describeNetworkInterfaces(r -> r.filters(
                            Ec2Tags.filter("addresses.private-ip-address", address),
                            Ec2Tags.filter("vpc-id", subnet.vpcId())))
                    .networkInterfaces();
            for (NetworkInterface eni : enis) {
                String attachedTo =
                        eni.attachment() == null ? null : eni.attachment().instanceId();
                if (attachedTo != null && ownIds.contains(attachedTo)) {
                    continue;
                }
                problems.add("address " + address + " is taken by network interface " + eni.networkInterfaceId()
                        + (attachedTo != null ? " of instance " + attachedTo : " (not attached)")
                        + (eni.description() != null && !eni.description().isEmpty()
                                ? " '" + eni.description() + "'"
                                : "")
                        + ", which is not node " + node.name() + "'s kiln instance: free the address, or give the"
                        + " node another one in the inventory");
            }
        } catch (SdkException e) {
            problems.add("cannot check who uses address " + address + ": "
                    + AwsErrors.explain(e, "describing network interfaces", where)
                            .getMessage());
        }
    }

    private void checkInstanceType(Subnet subnet, List<String> problems) {
        String zone = subnet.availabilityZone();
        try {
            boolean offered = !ec2.describeInstanceTypeOfferings(r -> r.locationType(LocationType.AVAILABILITY_ZONE)
                            .filters(
                                    Ec2Tags.filter("location", zone),
                                    Ec2Tags.filter("instance-type", aws.instanceType())))
                    .instanceTypeOfferings()
                    .isEmpty();
            if (!offered) {
                problems.add("instance type " + aws.instanceType() + " is not offered in zone " + zone + " of subnet "
                        + aws.subnetId() + ": choose another aws.instanceType, or a subnet in another zone");
            }
        } catch (SdkException e) {
            problems.add("cannot check instance type " + aws.instanceType() + " in zone " + zone + ": "
                    + AwsErrors.explain(e, "describing instance type offerings", where)
                            .getMessage());
        }
    }

    // --- replacing -------------------------------------------------------------------------

    @Override
    public String replace(Node node) throws IOException, InterruptedException {
        if (node.artifact() == null) {
            throw new IOException("node " + node.name() + ": no AMI resolved for " + node.to());
        }
        List<Instance> old = instancesOf(node.cluster(), node.name(), Ec2Tags.ALIVE);
        if (!old.isEmpty()) {
            List<String> ids = ids(old);
            call(
                    "terminating " + String.join(", ", ids) + " of node " + node.name(),
                    () -> ec2.terminateInstances(r -> r.instanceIds(ids)));
            poll.until(
                    "instance(s) " + String.join(", ", ids) + " of node " + node.name() + " to terminate",
                    () -> gone(ids) ? Boolean.TRUE : null);
        }
        Instance launched = launch(node);
        return "instance " + launched.instanceId() + " launched from " + node.artifact() + " at " + node.address()
                + (old.isEmpty() ? " (the node had no instance)" : " (terminated " + String.join(", ", ids(old)) + ")");
    }

    private boolean gone(List<String> ids) throws IOException {
        List<Instance> now =
                describe(DescribeInstancesRequest.builder().instanceIds(ids).build(), "instances " + ids);
        return now.stream().allMatch(i -> "terminated".equals(i.state().nameAsString()));
    }

    private Instance launch(Node node) throws IOException, InterruptedException {
        String key = node.cluster() + "/" + node.name() + "/" + node.to();
        byte[] data = userData.userData(node.mac());
        String encoded = Base64.getEncoder().encodeToString(data);
        for (int tries = 0; tries < MAX_TOKEN_ATTEMPTS; tries++) {
            int attempt = attempts.merge(key, 1, Integer::sum);
            RunInstancesRequest request = launchRequest(node, encoded, clientToken(node, attempt), true);
            Instance i = poll.until("address " + node.address() + " to be free for node " + node.name(), () -> {
                try {
                    return ec2.runInstances(request).instances().get(0);
                } catch (SdkException e) {
                    if (AwsErrors.is(e, ADDRESS_IN_USE)) {
                        return null; // the terminated instance's interface is still being deleted
                    }
                    throw AwsErrors.explain(e, "launching node " + node.name() + " from " + node.artifact(), where);
                }
            });
            String state = i.state() == null ? "" : i.state().nameAsString();
            if (!state.equals("terminated") && !state.equals("shutting-down")) {
                return i;
            }
            // The ClientToken of an earlier launch of this attempt: AWS answered with that instance,
            // which is gone since (rolled back). Launch anew under the next attempt's token.
        }
        throw new IOException("node " + node.name() + ": " + MAX_TOKEN_ATTEMPTS
                + " launches answered with an instance that is already gone (reused ClientTokens)");
    }

    /**
     * The launch of a node, as {@link #replace} sends it (tests check what the emulator drops). The
     * subnet, groups and address go in the primary network interface's spec, deleted with the
     * instance, rather than as the instance-level SubnetId/PrivateIpAddress: the same on AWS, and
     * moto then frees the address when the instance terminates (it keeps an instance-level one
     * until the instance is forgotten).
     */
    RunInstancesRequest launchRequest(Node node, String userDataBase64, String clientToken, boolean withAddress) {
        List<Tag> tags = new ArrayList<>(Ec2Tags.of(node.cluster(), node.name(), node.to()));
        if (!rolloutId.isEmpty()) {
            tags.add(Ec2Tags.tag("kiln:rollout", rolloutId));
        }
        RunInstancesRequest.Builder b = RunInstancesRequest.builder()
                .imageId(node.artifact())
                .instanceType(aws.instanceType())
                .minCount(1)
                .maxCount(1)
                .networkInterfaces(n -> n.deviceIndex(0)
                        .subnetId(aws.subnetId())
                        .groups(aws.securityGroupIds())
                        .privateIpAddress(withAddress ? node.address() : null)
                        .deleteOnTermination(true))
                .metadataOptions(
                        m -> m.httpTokens(HttpTokensState.REQUIRED).httpEndpoint(InstanceMetadataEndpointState.ENABLED))
                .userData(userDataBase64.isEmpty() ? null : userDataBase64)
                .tagSpecifications(
                        TagSpecification.builder()
                                .resourceType(ResourceType.INSTANCE)
                                .tags(tags)
                                .build(),
                        TagSpecification.builder()
                                .resourceType(ResourceType.VOLUME)
                                .tags(tags)
                                .build())
                .clientToken(clientToken);
        if (aws.keyName() != null) {
            b.keyName(aws.keyName());
        }
        if (aws.iamInstanceProfile() != null) {
            String p = aws.iamInstanceProfile();
            b.iamInstanceProfile(
                    p.startsWith("arn:")
                            ? IamInstanceProfileSpecification.builder().arn(p).build()
                            : IamInstanceProfileSpecification.builder().name(p).build());
        }
        return b.build();
    }

    /** At most 64 ASCII characters; the same for a retry of the same attempt, after a crash too. */
    String clientToken(Node node, int attempt) {
        String seed = node.cluster() + "/" + node.name() + "/" + node.to() + "/" + rolloutId + "/" + attempt;
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(seed.getBytes(StandardCharsets.UTF_8));
            return "kiln-" + HexFormat.of().formatHex(h, 0, 24);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Boolean alreadyReplaced(Node node) throws IOException {
        return instancesOf(node.cluster(), node.name(), List.of("pending", "running")).stream()
                .anyMatch(i -> node.to().equals(Ec2Tags.version(i)));
    }

    // --- finding instances ------------------------------------------------------------------

    /** The node's instances in these states (normally one), by its tags. */
    public List<Instance> instancesOf(String cluster, String node, List<String> states) throws IOException {
        return describe(
                DescribeInstancesRequest.builder()
                        .filters(
                                Ec2Tags.tagFilter(Ec2Tags.CLUSTER, cluster),
                                Ec2Tags.tagFilter(Ec2Tags.NODE, node),
                                Ec2Tags.states(states))
                        .build(),
                "instances of node " + node);
    }

    /** The version a node's running instance was launched with (its tags), or null if none runs. */
    public ImageRef currentVersion(String cluster, String node) throws IOException {
        return instancesOf(cluster, node, List.of("pending", "running")).stream()
                .map(Ec2Tags::version)
                .filter(v -> v != null)
                .findFirst()
                .orElse(null);
    }

    private List<Instance> describe(DescribeInstancesRequest request, String what) throws IOException {
        return describe(ec2, request, what, where);
    }

    private static List<Instance> describe(Ec2Client ec2, DescribeInstancesRequest request, String what, String where)
            throws IOException {
        try {
            List<Instance> all = new ArrayList<>();
            ec2.describeInstancesPaginator(request).reservations().forEach(r -> all.addAll(r.instances()));
            return all;
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "describing " + what, where);
        }
    }

    /**
     * Instances tagged for {@code cluster} whose {@code kiln:node} is not in the inventory (or that
     * have none): reported to the operator, never terminated by kiln.
     */
    public static List<String> strays(Ec2Client ec2, String cluster, Set<String> inventoryNodes) throws IOException {
        List<Instance> all = describe(
                ec2,
                DescribeInstancesRequest.builder()
                        .filters(Ec2Tags.tagFilter(Ec2Tags.CLUSTER, cluster), Ec2Tags.states(Ec2Tags.ALIVE))
                        .build(),
                "instances of cluster " + cluster,
                "EC2");
        List<String> strays = new ArrayList<>();
        for (Instance i : all) {
            String node = Ec2Tags.value(i, Ec2Tags.NODE);
            if (node != null && inventoryNodes.contains(node)) {
                continue;
            }
            strays.add("instance " + i.instanceId() + " (" + i.state().nameAsString()
                    + (i.privateIpAddress() != null ? ", " + i.privateIpAddress() : "") + ") is tagged "
                    + Ec2Tags.CLUSTER + "=" + cluster
                    + (node == null
                            ? " but has no " + Ec2Tags.NODE + " tag"
                            : " for node " + node + ", which is not in the inventory")
                    + "; kiln leaves it alone: terminate it yourself, or put the node back in the inventory");
        }
        return strays;
    }

    private static List<String> ids(List<Instance> instances) {
        return instances.stream().map(Instance::instanceId).collect(Collectors.toList());
    }

    private interface Call {
        void run();
    }

    private void call(String doing, Call call) throws IOException {
        try {
            call.run();
        } catch (SdkException e) {
            throw AwsErrors.explain(e, doing, where);
        }
    }
}
