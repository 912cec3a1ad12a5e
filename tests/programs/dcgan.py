"""pytorch/examples dcgan/main.py, rendered from its structure: the Generator (ConvTranspose2d + BatchNorm2d +
ReLU, Tanh) and Discriminator (Conv2d + BatchNorm2d + LeakyReLU, Sigmoid) for 64x64 images, weights_init
applied with model.apply, BCELoss with real/fake labels made by torch.full and fill_, two Adam optimizers with
betas=(beta1, 0.999), and the checkpoints of both nets. The image folder dataset is replaced by generated
images in [-1, 1] (what Normalize((0.5,)*3, (0.5,)*3) gives); the channel widths ngf/ndf are small.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import argparse
import io


def main(torch, argv=()):
    nn = torch.nn
    optim = torch.optim

    parser = argparse.ArgumentParser()
    parser.add_argument("--batchSize", type=int, default=4)       # 64 in the original
    parser.add_argument("--imageSize", type=int, default=64)
    parser.add_argument("--nz", type=int, default=16)             # 100
    parser.add_argument("--ngf", type=int, default=4)             # 64
    parser.add_argument("--ndf", type=int, default=4)             # 64
    parser.add_argument("--niter", type=int, default=1)           # 25
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--cuda", action="store_true")
    parser.add_argument("--ngpu", type=int, default=1)
    parser.add_argument("--netG", default="")
    parser.add_argument("--netD", default="")
    parser.add_argument("--manualSeed", type=int, default=999)
    parser.add_argument("--n-images", type=int, default=8)
    opt = parser.parse_args(list(argv))

    torch.manual_seed(opt.manualSeed)
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda:0" if opt.cuda else "cpu")

    nc = 3
    images = torch.rand(opt.n_images, nc, opt.imageSize, opt.imageSize) * 2 - 1
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(opt.n_images, dtype=torch.long))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=opt.batchSize, shuffle=True)

    ngpu = int(opt.ngpu)
    nz = int(opt.nz)
    ngf = int(opt.ngf)
    ndf = int(opt.ndf)

    # custom weights initialization called on netG and netD
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super(Generator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is Z, going into a convolution
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8),
                nn.ReLU(True),
                # state size. (ngf*8) x 4 x 4
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4),
                nn.ReLU(True),
                # state size. (ngf*4) x 8 x 8
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                # state size. (ngf*2) x 16 x 16
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                # state size. (ngf) x 32 x 32
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
                nn.Tanh()
                # state size. (nc) x 64 x 64
            )

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)
            return output

    netG = Generator(ngpu).to(device)
    netG.apply(weights_init)
    if opt.netG != "":
        netG.load_state_dict(torch.load(opt.netG))
    log = {"netG": repr(netG)}        # print(netG)

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super(Discriminator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is (nc) x 64 x 64
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf) x 32 x 32
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*2) x 16 x 16
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*4) x 8 x 8
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 8),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*8) x 4 x 4
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
                nn.Sigmoid()
            )

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)

            return output.view(-1, 1).squeeze(1)

    netD = Discriminator(ngpu).to(device)
    netD.apply(weights_init)
    if opt.netD != "":
        netD.load_state_dict(torch.load(opt.netD))
    log["netD"] = repr(netD)          # print(netD)

    criterion = nn.BCELoss()

    fixed_noise = torch.randn(opt.batchSize, nz, 1, 1, device=device)
    real_label = 1
    fake_label = 0

    # setup optimizer
    optimizerD = optim.Adam(netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    log.update({"errD": [], "errG": [], "D_x": [], "D_G_z1": [], "D_G_z2": []})
    for epoch in range(opt.niter):
        for i, data in enumerate(dataloader, 0):
            ############################
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            ###########################
            # train with real
            netD.zero_grad()
            real_cpu = data[0].to(device)
            batch_size = real_cpu.size(0)
            label = torch.full((batch_size,), real_label,
                               dtype=real_cpu.dtype, device=device)

            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            # train with fake
            noise = torch.randn(batch_size, nz, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            ############################
            # (2) Update G network: maximize log(D(G(z)))
            ###########################
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            for key, value in (("errD", errD.item()), ("errG", errG.item()), ("D_x", D_x),
                               ("D_G_z1", D_G_z1), ("D_G_z2", D_G_z2)):
                log[key].append(value)
            if i % 100 == 0:
                fake = netG(fixed_noise)            # vutils.save_image(fake.detach(), ...)
                log["fake_shape"] = tuple(fake.detach().shape)

        # do checkpointing
        buffers = {}
        for name, net in (("netG", netG), ("netD", netD)):
            buffers[name] = io.BytesIO()
            torch.save(net.state_dict(), buffers[name])
    state = torch.load(io.BytesIO(buffers["netD"].getvalue()))
    log["netD_keys"] = list(state)
    log["running_var"] = state["main.3.running_var"].tolist()
    log["num_batches_tracked"] = state["main.3.num_batches_tracked"].item()
    return log


if __name__ == "__main__":
    import ember
    print(main(ember))
