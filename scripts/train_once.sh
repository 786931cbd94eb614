# Sourced by the benchmark scripts: the one rule for when a training run is finished. spaCy writes
# model-best at a run's first evaluation, so a folder holding a pipeline may be a run stopped half
# way. A run is finished only when FOLDER/seconds (its wall time) is written after its command
# returned; otherwise FOLDER is removed and the command runs again from scratch. The marker does
# not record the run's settings: a rerun with other settings needs another FOLDER.
train_once() {  # FOLDER COMMAND [ARGS...]: COMMAND writes the run into FOLDER
    local folder=$1 start=$SECONDS
    shift
    [ -f "$folder/seconds" ] && return
    rm -rf "$folder"
    mkdir -p "$folder"
    "$@" || return  # its failure, also where the caller's `set -e` does not apply
    echo "$(( SECONDS - start ))" > "$folder/seconds"
}
