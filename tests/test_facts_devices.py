"""The facts docs/*/devices.md claims, checked on the installed torch.

CPU facts always run. GPU facts need a CUDA device and are skipped, with the reason, elsewhere.
"""

import copy

import pytest
import torch

from tools.snippets import ROOT, run

outputs, ns = run(ROOT / "snippets" / "devices.py")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; not run on this machine")
needs_two_gpus = pytest.mark.skipif(
    torch.cuda.device_count() < 2, reason="needs two CUDA devices; not run on this machine"
)


def test_cuda_is_not_equal_to_cuda0():
    assert ns["cuda"] != ns["cuda0"]
    assert ns["cuda"].type == ns["cuda0"].type == "cuda"


def test_cuda_has_no_index_and_cuda0_has_index_0():
    assert ns["cuda"].index is None
    assert ns["cuda0"].index == 0


def test_cuda0_equals_cuda_with_index_0():
    assert ns["cuda0"] == torch.device("cuda", 0)


def test_there_is_no_gpu_device():
    with pytest.raises(RuntimeError):
        torch.device("gpu")


def test_device_is_the_accelerator_if_available_else_cpu():
    if torch.accelerator.is_available():
        assert ns["device"].type == torch.accelerator.current_accelerator().type
        assert ns["device"].index is None
    else:
        assert ns["device"] == torch.device("cpu")


def test_try_all_gpus_is_never_empty():
    devices = ns["try_all_gpus"]()
    assert len(devices) >= 1
    assert all(isinstance(d, torch.device) for d in devices)


def test_try_all_gpus_is_the_cpu_alone_without_accelerator():
    if torch.accelerator.is_available():
        assert len(ns["try_all_gpus"]()) == torch.accelerator.device_count()
    else:
        assert ns["try_all_gpus"]() == [torch.device("cpu")]


def test_try_gpu_falls_back_to_cpu_for_a_missing_gpu():
    assert ns["try_gpu"](torch.accelerator.device_count()) == torch.device("cpu")


def test_an_empty_device_list_breaks_batch_splitting():
    with pytest.raises(RuntimeError):
        ns["split_batch"](ns["batch"], [])


def test_split_batch_keeps_every_row():
    parts = ns["parts"]
    assert len(parts) == len(ns["try_all_gpus"]())
    assert sum(part.shape[0] for part in parts) == ns["batch"].shape[0]
    assert torch.equal(torch.cat([part.cpu() for part in parts]), ns["batch"])


def test_copy_to_the_other_operands_device_then_add():
    assert ns["Z"].device == ns["Y"].device
    assert torch.equal((ns["Y"] + ns["Z"]).cpu(), torch.full((2, 3), 3.0))


def test_to_the_same_device_returns_the_same_tensor():
    tensor = torch.ones(2)
    assert tensor.to("cpu") is tensor
    assert ns["Z"].to(ns["Y"].device) is ns["Z"]


def test_to_another_device_copies_and_leaves_the_original():
    tensor = torch.ones(2)
    moved = tensor.to("meta")  # the meta device exists on every machine
    assert moved is not tensor
    assert moved.device.type == "meta"
    assert tensor.device == torch.device("cpu")


def test_net_has_parameters_and_buffers():
    net = ns["net"]
    assert len(list(net.parameters())) == 6
    assert isinstance(net[1], torch.nn.BatchNorm1d)
    assert len(list(net.buffers())) == len(list(net[1].buffers())) == 3


def test_net_to_moves_parameters_and_buffers():
    net = copy.deepcopy(ns["net"]).to("cpu")
    net.to("meta")  # a real move, possible without a GPU
    assert all(p.device.type == "meta" for p in net.parameters())
    assert all(b.device.type == "meta" for b in net.buffers())


def test_module_to_returns_the_same_module():
    net = copy.deepcopy(ns["net"])
    assert net.to("meta") is net


def test_net_is_on_the_chosen_device_and_computes_there():
    net, device = ns["net"], ns["device"]
    assert all(p.device.type == device.type for p in net.parameters())
    assert all(b.device.type == device.type for b in net.buffers())
    assert net(ns["X"]).device.type == device.type


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available: .cuda() works on this machine")
def test_cuda_method_fails_without_cuda():
    with pytest.raises((AssertionError, RuntimeError)):
        torch.ones(2).cuda()


@needs_cuda
def test_cuda_tensor_lands_on_the_current_device():
    assert torch.ones(1, device="cuda").device == torch.device("cuda", torch.cuda.current_device())


@needs_cuda
def test_tensor_device_never_equals_cuda_without_index():
    assert torch.ones(1, device="cuda").device != torch.device("cuda")


@needs_two_gpus
def test_cuda_follows_the_current_device():
    with torch.cuda.device(1):
        assert torch.ones(1, device="cuda").device == torch.device("cuda:1")


@needs_cuda
def test_mixing_cuda_and_cpu_vectors_raises():
    with pytest.raises(RuntimeError):
        torch.ones(3, device="cuda") + torch.ones(3)


@needs_cuda
def test_a_0_dim_cpu_tensor_mixes_with_a_cuda_tensor():
    result = torch.ones(3, device="cuda") + torch.tensor(2.0)
    assert result.device.type == "cuda"
    assert torch.equal(result.cpu(), torch.full((3,), 3.0))


@needs_cuda
def test_a_0_dim_cuda_tensor_does_not_mix_with_a_cpu_vector():
    with pytest.raises(RuntimeError):
        torch.ones(3) + torch.tensor(2.0, device="cuda")


@needs_two_gpus
def test_tensors_on_two_gpus_do_not_mix():
    with pytest.raises(RuntimeError):
        torch.ones(3, device="cuda:0") + torch.ones(3, device="cuda:1")


@needs_cuda
def test_model_on_cuda_rejects_cpu_data():
    net = copy.deepcopy(ns["net"]).to("cuda")
    with pytest.raises(RuntimeError):
        net(torch.rand(2, 3))


@needs_cuda
def test_cuda_matrix_product_matches_the_cpu():
    A = torch.rand(512, 512)
    assert torch.allclose(A @ A, (A.to("cuda") @ A.to("cuda")).cpu(), rtol=1e-3)
