package dev.kiln.fleet;

import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * What the inventory loader checks of a cluster's {@code aws:} entry and of the nodes of such a
 * cluster. Only the form: whether the subnet, groups and profile exist is for {@code kiln rollout
 * plan} to find out (its blockers), with credentials kiln serve's inventory check does not have.
 */
final class AwsCheck {
    private static final Pattern REGION = Pattern.compile("[a-z]{2}(-[a-z]+)+-\\d+");
    private static final Pattern SUBNET = Pattern.compile("subnet-[0-9a-f]{8,17}");
    private static final Pattern GROUP = Pattern.compile("sg-[0-9a-f]{8,17}");
    private static final Pattern INSTANCE_TYPE = Pattern.compile("[a-z0-9-]+\\.[a-z0-9-]+");
    /** A profile name (IAM: letters, digits, +=,.@_-) or its ARN. */
    private static final Pattern PROFILE =
            Pattern.compile("[\\w+=,.@-]{1,128}|arn:aws[a-z-]*:iam::\\d{12}:instance-profile/[\\w+=,.@/-]{1,128}");

    private static final Pattern IPV4 =
            Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

    private AwsCheck() {}

    static void check(String field, String who, Inventory.Aws aws, BiConsumer<String, String> problem) {
        if (aws == null) {
            return;
        }
        required(field + ".region", aws.region(), REGION, who, "an AWS region like eu-west-1", problem);
        required(field + ".subnetId", aws.subnetId(), SUBNET, who, "a subnet id like subnet-0123abcd", problem);
        required(
                field + ".instanceType",
                aws.instanceType(),
                INSTANCE_TYPE,
                who,
                "an EC2 instance type like m6i.large",
                problem);
        if (aws.securityGroupIds() == null || aws.securityGroupIds().isEmpty()) {
            problem.accept(
                    field + ".securityGroupIds",
                    "missing required field: a list of security group ids like [sg-0123abcd]");
        } else {
            for (int i = 0; i < aws.securityGroupIds().size(); i++) {
                String g = aws.securityGroupIds().get(i);
                if (g == null || !GROUP.matcher(g).matches()) {
                    problem.accept(
                            field + ".securityGroupIds[" + i + "]",
                            who + ": '" + g + "' is not a security group id (like sg-0123abcd)");
                }
            }
        }
        if (aws.iamInstanceProfile() != null
                && !PROFILE.matcher(aws.iamInstanceProfile()).matches()) {
            problem.accept(
                    field + ".iamInstanceProfile",
                    who
                            + ": '"
                            + aws.iamInstanceProfile()
                            + "' is not an instance profile name or ARN (arn:aws:iam::ACCOUNT:instance-profile/NAME)");
        }
        if (aws.keyName() != null && aws.keyName().isBlank()) {
            problem.accept(field + ".keyName", who + ": an empty key pair name; leave keyName out for none");
        }
        pools(field + ".pools", who, aws.pools(), problem);
    }

    private static final Pattern POOL_NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    // What AWS accepts as an Auto Scaling group name: 1-255 characters, no colon (ARNs are not names).
    private static final Pattern ASG_NAME = Pattern.compile("[^:\\p{Cntrl}]{1,255}");

    private static void pools(
            String field, String who, java.util.List<Inventory.Pool> pools, BiConsumer<String, String> problem) {
        if (pools == null) {
            return;
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < pools.size(); i++) {
            Inventory.Pool p = pools.get(i);
            String f = field + "[" + i + "]";
            if (p == null) {
                problem.accept(f, who + ": an empty pool; expected {name: workers-a, autoScalingGroup: NAME}");
                continue;
            }
            if (p.name() == null || !POOL_NAME.matcher(p.name()).matches()) {
                problem.accept(
                        f + ".name",
                        who + ": " + (p.name() == null ? "missing required field" : "'" + p.name() + "'")
                                + ": expected a pool name of lowercase letters, digits and dashes like workers-a");
            } else if (!names.add(p.name())) {
                problem.accept(f + ".name", who + ": pool '" + p.name() + "' is listed twice");
            }
            if (p.autoScalingGroup() == null
                    || !ASG_NAME.matcher(p.autoScalingGroup()).matches()) {
                problem.accept(
                        f + ".autoScalingGroup",
                        who + ": "
                                + (p.autoScalingGroup() == null
                                        ? "missing required field"
                                        : "'" + p.autoScalingGroup() + "'")
                                + ": expected the name of an Auto Scaling group in the cluster's region (not an ARN)");
            }
        }
    }

    /** A node of an EC2 cluster: an IPv4 address (EC2's PrivateIpAddress), no BMC. */
    static void node(String field, String who, Inventory.Node n, BiConsumer<String, String> problem) {
        if (InventoryChecker.isIpLiteral(n.address())
                && !IPV4.matcher(n.address()).matches()) {
            problem.accept(
                    field + ".address",
                    who + ": '" + n.address() + "' is not an IPv4 address; an EC2 node needs one in its subnet");
        }
        if (n.bmc() != null) {
            problem.accept(
                    field + ".bmc",
                    who + ": the cluster runs on EC2 (aws:), whose instances are replaced, not power cycled;"
                            + " remove the bmc entry");
        }
    }

    private static void required(
            String field, String value, Pattern form, String who, String expected, BiConsumer<String, String> problem) {
        if (value == null) {
            problem.accept(field, "missing required field: " + expected);
        } else if (!form.matcher(value).matches()) {
            problem.accept(field, who + ": '" + value + "' is not " + expected);
        }
    }
}
