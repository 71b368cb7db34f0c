"""fit with the device-resident loader versus the source article's data path.

Same model (SmallCNN), same images, same augmentation (random crop with 2 px padding,
horizontal flip), same epochs. The baseline is the article's style: a Dataset that
makes a PIL image per sample and applies torchvision transforms, fed by a DataLoader.
Ratio printed: images/s(device loader) / images/s(DataLoader + PIL).
"""

from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from benchmarks.common import compare, report
from course_utils import (
    Augment,
    DeviceLoader,
    SmallCNN,
    fit,
    get_device,
    load_fashion_mnist,
    seed_everything,
)

EPOCHS, N_IMAGES, BATCH = 1, 6000, 128


class PILDataset(Dataset):
    """One PIL image per sample, transformed one at a time (the article's pattern)."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose([
            transforms.RandomCrop(28, padding=2),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
        ])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = Image.fromarray(self.images[i, 0].numpy())
        return self.transform(image), self.labels[i]


def main() -> None:
    device = get_device()
    data = load_fashion_mnist("train").subset(slice(0, N_IMAGES))
    device_loader = DeviceLoader.from_data(data, batch_size=BATCH, shuffle=True,
                                           augment=Augment(padding=2), device=device)
    pil_loader = DataLoader(PILDataset(data.images, data.labels), batch_size=BATCH, shuffle=True,
                            num_workers=0)

    def run(loader):
        seed_everything(0)
        fit(SmallCNN().to(device), loader, epochs=EPOCHS, lr=1e-3, progress=False)

    t_device, t_pil = compare(lambda: run(device_loader), lambda: run(pil_loader), repeats=3,
                              device=device)
    report(EPOCHS * N_IMAGES, ("device loader", t_device), ("DataLoader + PIL", t_pil), "speed")


if __name__ == "__main__":
    main()
