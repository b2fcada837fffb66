package dev.kiln.aws;

import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;

/**
 * One region's EC2 client, and how error messages name it ({@code where}: "region us-east-1", with
 * the endpoint when one was given).
 */
record Ec2Region(Region region, Ec2Client ec2, String where) {
    static Ec2Region of(AwsClients clients, Region region, String endpoint) {
        return new Ec2Region(
                region,
                clients.ec2(region),
                "region " + region.id() + (endpoint != null ? " (endpoint " + endpoint + ")" : ""));
    }
}
