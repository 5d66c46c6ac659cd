"""An independent music tagger for bench/sound.py: MusiCNN trained on MagnaTagATune.

The weights ship inside the PyPI package ``musicnn`` (ISC licence; TF1 checkpoints).
Its own code needs TensorFlow 1's layers API, gone with Keras 3, so this script imports
the checkpoint's saved graph directly (training-only nodes stripped), restores the
weights and runs the forward pass: log-mel input exactly as musicnn computes it
(librosa, 16 kHz, 512-point FFT, hop 256, 96 mels, log10(1 + 10000 x)), 3-s patches,
tag probabilities averaged over patches.

It runs in its own environment, not the project's (TensorFlow is large):

    python -m venv /tmp/tagger && /tmp/tagger/bin/pip install tensorflow-cpu librosa soundfile
    /tmp/tagger/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tagger/bin/python bench/instrument_tags.py FILE.wav ...   # prints JSON {file: [[tag, p], ...]}
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SR, FFT, HOP, MELS, PATCH = 16000, 512, 256, 96, 187


def load_graph():
    import musicnn
    import tensorflow as tf

    folder = os.path.join(os.path.dirname(musicnn.__file__), "MTT_musicnn")
    tf.compat.v1.disable_eager_execution()
    meta = tf.compat.v1.MetaGraphDef()
    with open(os.path.join(folder, ".meta"), "rb") as f:
        meta.ParseFromString(f.read())
    training = ("gradients", "Adam", "save", "train", "init")
    nodes = [n for n in meta.graph_def.node
             if not n.name.startswith(training) and "Adam" not in n.name and "_power" not in n.name]
    del meta.graph_def.node[:]
    for n in nodes:
        if "_output_shapes" in n.attr:
            del n.attr["_output_shapes"]
        meta.graph_def.node.append(n)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(meta.graph_def, name="")
        reader = tf.compat.v1.train.NewCheckpointReader(os.path.join(folder, ""))
        assigns = [tf.compat.v1.assign(graph.get_tensor_by_name(name + ":0"), reader.get_tensor(name))
                   for name in reader.get_variable_to_shape_map() if name + ":0" in _tensor_names(graph)]
    session = tf.compat.v1.Session(graph=graph)
    session.run(assigns)
    return session, graph


def _tensor_names(graph) -> set[str]:
    return {o.name + ":0" for o in graph.get_operations()}


def tags(session, graph, path: str, top: int = 5) -> list[tuple[str, float]]:
    import librosa
    import numpy as np
    from musicnn.configuration import MTT_LABELS

    audio, _ = librosa.load(path, sr=SR)
    mel = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=FFT, n_mels=MELS).T
    mel = np.log10(10000 * mel + 1)
    patches = np.stack([mel[i : i + PATCH] for i in range(0, len(mel) - PATCH + 1, PATCH)])
    probs = session.run(graph.get_tensor_by_name("model/Sigmoid:0"),
                        {graph.get_tensor_by_name("model/Placeholder:0"): patches,
                         graph.get_tensor_by_name("model/Placeholder_2:0"): False}).mean(axis=0)
    order = np.argsort(-probs)[:top]
    return [(MTT_LABELS[i], round(float(probs[i]), 3)) for i in order]


def main() -> None:
    session, graph = load_graph()
    print(json.dumps({path: tags(session, graph, path) for path in sys.argv[1:]}))


if __name__ == "__main__":
    main()
