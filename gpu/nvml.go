//go:build linux && cgo

package gpu

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Probe reads every GPU's state through NVML. It wraps ErrNoGPU when the
// NVML library is missing (no driver), fails to initialise, or sees no device.
func Probe() ([]Device, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			return nil, fmt.Errorf("%w: NVML (libnvidia-ml.so.1) not found: no NVIDIA driver", ErrNoGPU)
		}
		return nil, fmt.Errorf("%w: NVML init: %s", ErrNoGPU, nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: NVML device count: %s", ErrNoGPU, nvml.ErrorString(ret))
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the driver sees no device", ErrNoGPU)
	}
	devs := make([]Device, 0, n)
	for i := range n {
		h, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("gpu %d: %s", i, nvml.ErrorString(ret))
		}
		d := Device{Index: i}
		if v, ret := h.GetName(); ret == nvml.SUCCESS {
			d.Name = v
		}
		if v, ret := h.GetUUID(); ret == nvml.SUCCESS {
			d.UUID = v
		}
		if m, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
			d.MemoryTotal, d.MemoryUsed = m.Total, m.Used
		}
		if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
			d.UtilizationGPU, d.UtilizationMemory = u.Gpu, u.Memory
		}
		if mw, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
			d.PowerWatts = float64(mw) / 1000
		}
		if mw, ret := h.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
			d.PowerLimitWatts = float64(mw) / 1000
		}
		if t, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
			d.TemperatureC = t
		}
		if c, ret := h.GetClockInfo(nvml.CLOCK_SM); ret == nvml.SUCCESS {
			d.SMClockMHz = c
		}
		devs = append(devs, d)
	}
	return devs, nil
}
