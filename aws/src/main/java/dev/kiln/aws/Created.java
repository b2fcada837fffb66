package dev.kiln.aws;

import java.util.ArrayList;
import java.util.List;

/** What one publish created, in order; each is also told to the listener as it happens. */
final class Created {
    private final PublishListener listener;
    private final List<String> ids = new ArrayList<>();

    Created(PublishListener listener) {
        this.listener = listener;
    }

    PublishListener listener() {
        return listener;
    }

    void add(String kind, String region, String id) {
        ids.add(id);
        listener.created(kind, region, id);
    }

    List<String> ids() {
        return ids;
    }
}
