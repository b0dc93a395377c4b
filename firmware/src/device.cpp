#include "berrykit/device.hpp"

#include "berrykit/error.hpp"
#include "berrykit/kit.hpp"

namespace berrykit {

Device::Device(std::shared_ptr<Kit> kit, PartBinding binding)
    : kit_(std::move(kit)), binding_(std::move(binding)), id_(kit_->register_device(this)) {}

Device::~Device() { kit_->unregister_device(id_); }

Backend& Device::backend() const noexcept { return kit_->backend(); }

void Device::check_open() const {
    if (closed_) {
        throw Error(ErrorCode::closed, description() +
                                           " was closed, so it cannot be used any more. "
                                           "Open it again if you need it.");
    }
}

void Device::close() noexcept {
    std::lock_guard guard(backend().lock());
    if (closed_) return;
    release();
    closed_ = true;
    kit_->notify();
}

void Device::emit(EventKind kind, Nanos time) {
    kit_->events().push(DeviceEvent{id_, kind, time});
    kit_->notify();
}

void Device::notify_changed() { kit_->notify(); }

bool Device::wait_until(const std::function<bool()>& ready, std::optional<double> timeout) {
    return kit_->wait_until(
        [this, &ready] {
            check_open();
            return ready();
        },
        timeout);
}

std::unique_ptr<Pin> Device::claim(const std::string& role) {
    const auto it = binding_.lines.find(role);
    if (it == binding_.lines.end()) {
        throw Error(ErrorCode::board, description() + " has no '" + role + "' line in the board definition");
    }
    if (binding_.shared) return backend().share_input(it->second, description());
    return backend().claim(it->second, description());
}

}  // namespace berrykit
