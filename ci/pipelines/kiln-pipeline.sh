#!/usr/bin/env bash
# kiln's image pipeline for users: the one script the GitHub Actions workflow, the GitLab CI file
# and the Jenkinsfile in this folder call, and that you can run by hand from your repository.
#
#   ci/pipelines/kiln-pipeline.sh nightly SPEC...   outdated -> bump -> a branch with the bumped
#                                                   specs (+ a pull/merge request with a token)
#   ci/pipelines/kiln-pipeline.sh release SPEC...   build -> validate -> publish (S3, AMI) ->
#                                                   promote to the first environment
#   ci/pipelines/kiln-pipeline.sh release --changed-since BASE
#                                                   the same for the specs changed since git
#                                                   revision BASE (every spec when BASE is unknown)
#
# Settings (environment; every one optional):
#   KILN                 the kiln command (default: kiln on PATH, else ./kiln of a kiln checkout)
#   KILN_STORE           image store (kiln's default: ~/.local/share/kiln/images)
#   KILN_CACHE           package-layer cache; keep it between runs (the CI files cache it)
#   KILN_REPORTS         where validation reports (junit.xml) go (default: kiln-reports)
#   KILN_BUMP            what nightly bumps: --security-only (default), --kernel or --all
#   KILN_BRANCH          nightly's branch (default: kiln/bump-YYYYMMDD)
#   KILN_GIT_PUSH        1: push the branch to KILN_GIT_REMOTE (default origin)
#   GITHUB_TOKEN + GITHUB_REPOSITORY          open a pull request (GitHub)
#   GITLAB_TOKEN + CI_API_V4_URL + CI_PROJECT_ID  open a merge request (GitLab)
#   KILN_VALIDATE_PROVIDER  qemu-pxe, container or auto (default: qemu-pxe when /dev/kvm is
#                        usable, else container: no nested virtualisation)
#   KILN_VALIDATE_MASTERS, KILN_VALIDATE_WORKERS   cluster size (default 1 and 2)
#   KILN_S3              s3://BUCKET/PREFIX: publish there
#   KILN_AMI_REGION      publish an AMI in this region (KILN_AMI_COPY_TO: more regions, comma-separated)
#   KILN_AWS_ENDPOINT_URL  an AWS emulator (moto) instead of AWS
#   KILN_PROMOTE_ENV     the first environment (default: dev)
# AWS credentials come the AWS SDK way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an
# instance role); tokens and keys are read from the environment and never printed.
#
# Exit status: 0 done (nightly: also when nothing was newer), 1 a step failed, 2 bad usage.
set -euo pipefail

usage() {
    sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

log() {
    printf '== %s\n' "$*"
}

kiln_cmd() {
    if [ -n "${KILN:-}" ]; then
        # KILN may be a command with arguments ("java -jar kiln.jar"): split on purpose.
        # shellcheck disable=SC2086
        set -- $KILN "$@"
    elif command -v kiln >/dev/null 2>&1; then
        set -- kiln "$@"
    elif [ -x ./kiln ]; then
        set -- ./kiln "$@"
    else
        echo "kiln-pipeline: no kiln command (install kiln, or set KILN)" >&2
        exit 1
    fi
    "$@"
}

store_args() {
    if [ -n "${KILN_STORE:-}" ]; then
        printf '%s\n' --store "$KILN_STORE"
    fi
}

# The spec's name:version, read the way kiln writes them (top-level "name:" and "version:").
spec_ref() {
    local name version
    name=$(sed -n 's/^name:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$1" | head -n 1)
    version=$(sed -n 's/^version:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$1" | head -n 1)
    name=${name//[\"\']/}
    version=${version//[\"\']/}
    if [ -z "$name" ] || [ -z "$version" ]; then
        echo "kiln-pipeline: $1: no top-level name: and version:" >&2
        exit 2
    fi
    printf '%s:%s\n' "$name" "$version"
}

nightly() {
    [ $# -ge 1 ] || usage
    local bump=${KILN_BUMP:---security-only} bumped=() spec rc store
    mapfile -t store < <(store_args)
    for spec in "$@"; do
        log "outdated $spec"
        rc=0
        kiln_cmd outdated "${store[@]}" "$spec" || rc=$?
        case $rc in
            0) log "$spec: nothing newer" ;;
            10)
                log "bump $bump $spec"
                kiln_cmd bump "${store[@]}" "$bump" "$spec"
                if ! git diff --quiet -- "$spec"; then
                    bumped+=("$spec")
                fi
                ;;
            *) echo "kiln-pipeline: kiln outdated $spec failed (exit $rc)" >&2; exit 1 ;;
        esac
    done
    if [ ${#bumped[@]} -eq 0 ]; then
        log "no spec bumped"
        return 0
    fi
    local branch=${KILN_BRANCH:-kiln/bump-$(date -u +%Y%m%d)} message
    message="kiln bump: $(for s in "${bumped[@]}"; do spec_ref "$s"; done | paste -sd ' ' -)"
    git checkout -q -B "$branch"
    git add -- "${bumped[@]}"
    git -c user.name="${GIT_AUTHOR_NAME:-kiln pipeline}" -c user.email="${GIT_AUTHOR_EMAIL:-kiln@localhost}" \
        commit -q -m "$message" -m "Newer Debian versions found by kiln outdated; pinned by kiln bump $bump."
    log "committed on branch $branch: $message"
    if [ "${KILN_GIT_PUSH:-0}" = 1 ]; then
        git push -q -f "${KILN_GIT_REMOTE:-origin}" "$branch"
        log "pushed $branch"
        open_request "$branch" "$message"
    fi
}

# A pull/merge request for the pushed branch, when the platform's token is there. The token goes
# to curl on stdin (-H @-), so it is neither printed nor visible in the process list.
open_request() {
    local branch=$1 title=$2 base
    if [ -n "${GITHUB_TOKEN:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ]; then
        base=${KILN_BASE_BRANCH:-${GITHUB_BASE_REF:-main}}
        jq -n --arg t "$title" --arg h "$branch" --arg b "$base" \
            '{title: $t, head: $h, base: $b, body: "Opened by ci/pipelines/kiln-pipeline.sh nightly."}' >"$work/request.json"
        printf 'Authorization: Bearer %s\n' "$GITHUB_TOKEN" | curl -fsS -o /dev/null -H @- \
            -H 'Accept: application/vnd.github+json' --data-binary @"$work/request.json" \
            "${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY/pulls" \
            || echo "kiln-pipeline: could not open a pull request (one may exist already)" >&2
        log "pull request requested: $branch -> $base"
    elif [ -n "${GITLAB_TOKEN:-}" ] && [ -n "${CI_API_V4_URL:-}" ] && [ -n "${CI_PROJECT_ID:-}" ]; then
        base=${KILN_BASE_BRANCH:-${CI_DEFAULT_BRANCH:-main}}
        jq -n --arg t "$title" --arg h "$branch" --arg b "$base" \
            '{title: $t, source_branch: $h, target_branch: $b, remove_source_branch: true}' >"$work/request.json"
        printf 'PRIVATE-TOKEN: %s\n' "$GITLAB_TOKEN" | curl -fsS -o /dev/null -H @- \
            -H 'Content-Type: application/json' --data-binary @"$work/request.json" \
            "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests" \
            || echo "kiln-pipeline: could not open a merge request (one may exist already)" >&2
        log "merge request requested: $branch -> $base"
    else
        log "no GITHUB_TOKEN or GITLAB_TOKEN: branch pushed, no pull request opened"
    fi
}

validate_provider() {
    local p=${KILN_VALIDATE_PROVIDER:-auto}
    if [ "$p" = auto ]; then
        # qemu-pxe needs KVM to be quick; hosted CI runners usually have no nested virtualisation.
        if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then p=qemu-pxe; else p=container; fi
    fi
    printf '%s\n' "$p"
}

release() {
    [ $# -ge 1 ] || usage
    if [ "$1" = --changed-since ]; then
        [ $# -eq 2 ] || usage
        local specs
        mapfile -t specs < <(changed "$2")
        if [ ${#specs[@]} -eq 0 ]; then
            log "no spec changed since $2"
            return 0
        fi
        set -- "${specs[@]}"
    fi
    local spec ref provider reports=${KILN_REPORTS:-kiln-reports} store aws=()
    mapfile -t store < <(store_args)
    provider=$(validate_provider)
    if [ -n "${KILN_AWS_ENDPOINT_URL:-}" ]; then
        aws=(--endpoint-url "$KILN_AWS_ENDPOINT_URL")
    fi
    mkdir -p "$reports"
    for spec in "$@"; do
        ref=$(spec_ref "$spec")
        if kiln_cmd inspect "${store[@]}" "$ref" >/dev/null 2>&1; then
            log "build: $ref is already in the store (versions are immutable)"
        else
            log "build $spec"
            kiln_cmd build "${store[@]}" ${KILN_CACHE:+--cache "$KILN_CACHE"} "$spec"
        fi
        log "validate $ref on $provider"
        kiln_cmd validate "${store[@]}" --provider "$provider" \
            --masters "${KILN_VALIDATE_MASTERS:-1}" --workers "${KILN_VALIDATE_WORKERS:-2}" \
            --report "$reports/${ref/:/-}" "$ref"
        if [ -n "${KILN_S3:-}" ]; then
            log "publish $ref to $KILN_S3"
            kiln_cmd publish "${store[@]}" "${aws[@]}" "$ref" --s3 "$KILN_S3"
        fi
        if [ -n "${KILN_AMI_REGION:-}" ]; then
            log "publish $ref as an AMI in $KILN_AMI_REGION"
            kiln_cmd publish "${store[@]}" "${aws[@]}" "$ref" --ami --region "$KILN_AMI_REGION" \
                ${KILN_AMI_COPY_TO:+--copy-to "$KILN_AMI_COPY_TO"}
        fi
        promote "$ref"
    done
}

# The validated, published version enters the first environment through its gates (kiln promote:
# the environments file from $KILN_ENVIRONMENTS or ./environments.yaml). A gate that refuses fails
# the pipeline; KILN_PROMOTE_ENV= (empty) leaves promotion to people.
promote() {
    local env=${KILN_PROMOTE_ENV-dev}
    if [ -z "$env" ]; then
        log "promote: KILN_PROMOTE_ENV is empty; $1 is published, not promoted"
        return 0
    fi
    log "promote $1 to $env"
    kiln_cmd promote "${store[@]}" "$1" --to "$env" --reason "pipeline: validated and published ${CI_JOB_URL:-${GITHUB_RUN_ID:-by hand}}"
}

# Specs added or modified since BASE (deleted ones have nothing to build); every spec when BASE
# is not a commit here (a first push reports 0000000, a shallow clone may lack it).
changed() {
    if git rev-parse -q --verify "$1^{commit}" >/dev/null 2>&1; then
        git diff --name-only --diff-filter=AM "$1" HEAD -- 'image-specs/*.yaml' 'image-specs/*.yml'
    else
        git ls-files -- 'image-specs/*.yaml' 'image-specs/*.yml'
    fi
}

[ $# -ge 1 ] || usage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command=$1
shift
case $command in
    nightly) nightly "$@" ;;
    release) release "$@" ;;
    -h|--help|help) usage 0 ;;
    *) echo "kiln-pipeline: unknown command '$command'; expected nightly or release" >&2; exit 2 ;;
esac
