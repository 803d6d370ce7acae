"""A small GAN on the 8x8 digits bundled with scikit-learn, written the
classic Keras way: a generator (Dense, Conv2DTranspose, LeakyReLU, tanh), a
discriminator (Conv2D, LeakyReLU, sigmoid) trained with binary
cross-entropy, and the combined model that trains the generator through
the frozen discriminator; two optimizers, three compiled train steps.

    python examples/keras/gan.py [epochs]

Prints the losses per epoch and a few generated digits as text.
"""
import sys

import numpy as np
from sklearn.datasets import load_digits

from dlc import keras
from dlc.keras import layers

LATENT = 16


def data():
    return (load_digits().images / 8.0 - 1.0).astype(np.float32)[..., None]   # (1797, 8, 8, 1) in [-1, 1]


def build_generator():
    return keras.Sequential([
        keras.Input(shape=(LATENT,)),
        layers.Dense(2 * 2 * 32),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((2, 2, 32)),
        layers.Conv2DTranspose(16, kernel_size=3, strides=2, padding="same"),   # 4x4
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(1, kernel_size=3, strides=2, padding="same"),    # 8x8
        layers.Activation("tanh"),
    ], name="generator")


def build_discriminator():
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(16, kernel_size=3, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(32, kernel_size=3, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")


def show(images, cols=6) -> str:
    """Digits as text: darker pixels are denser characters."""
    shades = " .:-=+*#%@"
    rows = []
    for r in range(8):
        line = []
        for img in images[:cols]:
            v = np.clip((img[r, :, 0] + 1) / 2, 0, 1)
            line.append("".join(shades[int(p * (len(shades) - 1))] * 2 for p in v))
        rows.append("   ".join(line))
    return "\n".join(rows)


def main(epochs: int = 20, batch_size: int = 32, verbose: int = 1) -> dict:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = data()
    generator, discriminator = build_generator(), build_discriminator()
    discriminator.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5),
                          loss="binary_crossentropy", metrics=["accuracy"])
    discriminator.trainable = False              # frozen inside the combined model only
    gan = keras.Sequential([generator, discriminator], name="gan")
    gan.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5), loss="binary_crossentropy")

    fixed_noise = rng.normal(size=(6, LATENT)).astype(np.float32)
    first_samples = generator.predict(fixed_noise)
    real_labels = np.ones((batch_size, 1), np.float32)
    fake_labels = np.zeros((batch_size, 1), np.float32)
    history = {"d_loss": [], "g_loss": [], "d_acc_real": [], "d_acc_fake": []}
    steps = len(x) // batch_size
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        logs = np.zeros(4)
        for s in range(steps):
            real = x[order[s * batch_size:(s + 1) * batch_size]]
            noise = rng.normal(size=(batch_size, LATENT)).astype(np.float32)
            fake = generator.predict(noise)
            d_real, acc_real = discriminator.train_on_batch(real, real_labels)
            d_fake, acc_fake = discriminator.train_on_batch(fake, fake_labels)
            g_loss = gan.train_on_batch(noise, real_labels)     # the generator wants "real"
            logs += [(d_real + d_fake) / 2, g_loss, acc_real, acc_fake]
        logs /= steps
        for k, v in zip(history, logs):
            history[k].append(float(v))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  d_loss: {logs[0]:.4f}  g_loss: {logs[1]:.4f}  "
                  f"d_acc_real: {logs[2]:.3f}  d_acc_fake: {logs[3]:.3f}", flush=True)
    samples = generator.predict(fixed_noise)
    if verbose:
        print("generated digits (fixed noise):")
        print(show(samples))
    change = float(np.mean(np.abs(samples - first_samples)))
    print(f"final d_loss: {history['d_loss'][-1]:.4f}  g_loss: {history['g_loss'][-1]:.4f}  "
          f"mean change of the fixed-noise samples: {change:.3f}")
    return {"history": history, "samples": samples, "first_samples": first_samples, "change": change}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
