# Sourced by the benchmark scripts: the one rule for when a training run is finished. spaCy writes
# model-best at a run's first evaluation, so a folder holding a pipeline may be a run stopped half
# way. A run is finished only when FOLDER/seconds (its wall time) is written after its command
# returned; otherwise FOLDER is removed and the command runs again from scratch. FOLDER/command
# records the command line that finished it: a rerun with another command (other settings) stops
# with an error instead of taking the old run for the new one, and never deletes a finished run.
train_once() {  # FOLDER COMMAND [ARGS...]: COMMAND writes the run into FOLDER
    local folder=$1 start=$SECONDS command
    shift
    command=$(printf '%q ' "$@")
    if [ -f "$folder/seconds" ]; then
        if [ ! -f "$folder/command" ]; then
            echo "train_once: keeping $folder, finished before commands were recorded" >&2
        elif [ "$(cat "$folder/command")" != "$command" ]; then
            echo "train_once: $folder was finished by another command (see $folder/command); remove it to train again, or give this run another folder" >&2
            return 1
        fi
        return 0
    fi
    rm -rf "$folder"
    mkdir -p "$folder"
    "$@" || return  # its failure, also where the caller's `set -e` does not apply
    printf '%s' "$command" > "$folder/command"
    echo "$(( SECONDS - start ))" > "$folder/seconds"
}
