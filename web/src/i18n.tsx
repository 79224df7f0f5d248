import { createContext, type ReactNode, useContext, useState } from 'react';

export type Lang = 'en' | 'ru';

const en = {
  appName: 'Billfold',
  signIn: 'Sign in',
  signInTitle: 'Sign in to your account',
  email: 'Email',
  password: 'Password',
  signOut: 'Sign out',
  signedOut: 'You are signed out.',
  language: 'Language',
  navServices: 'Services',
  mainNavigation: 'Main navigation',
  openNavigation: 'Open navigation',
  services: 'Services',
  service: 'Service',
  status: 'Status',
  expires: 'Expires',
  ip: 'IP address',
  noServices: 'You have no services yet.',
  loading: 'Loading…',
  retry: 'Try again',
  newer: 'Newer',
  older: 'Older',
  back: 'All services',
  licenseKey: 'License key',
  copy: 'Copy',
  copied: 'Copied',
  keyCopied: 'The license key is in your clipboard.',
  keyBeingIssued: 'The key is being issued; it appears here when it is ready.',
  noLicense: 'This service has no license key.',
  operations: 'Operations',
  noOperations: 'Nothing is in progress.',
  operation: 'Operation',
  started: 'Started',
  period: 'Period',
  months: (n: number) => (n === 1 ? '1 month' : `${n} months`),
  autoRenew: 'Auto-renew',
  off: 'off',
  notFoundTitle: 'Not found',
  notFoundText: 'There is no such page, or it belongs to another account.',
  toServices: 'Go to your services',
  somethingWrong: 'Something went wrong',
  never: '—',
  serviceStatus: {
    ordered: 'ordered',
    processing: 'being set up',
    active: 'active',
    suspended: 'suspended',
    deleted: 'deleted',
  } as Record<string, string>,
  opKind: {
    open: 'Setting up',
    prolong: 'Renewal',
    suspend: 'Suspension',
    resume: 'Resumption',
    close: 'Removal',
    set_param: 'Change',
  } as Record<string, string>,
  opState: {
    being_set_up: 'being set up',
    in_progress: 'in progress',
    retrying: 'retrying after a temporary failure',
    waiting_for_staff: 'waiting for staff',
    done: 'done',
    failed: 'failed',
    cancelled: 'cancelled',
  } as Record<string, string>,
  errors: {
    invalid_credentials: 'The email or password is wrong. Check them and try again.',
    too_many_login_attempts: 'Too many sign-in attempts. Wait a few minutes, then try again.',
    unauthenticated: 'Your session has ended. Sign in again.',
    csrf_token_invalid: 'Your session is out of date. Reload the page and try again.',
    forbidden: 'You may not do this. Ask your provider if you need it.',
    service_not_found: 'There is no such service in your account.',
    validation_failed: 'Some fields are not filled in correctly. Check them and try again.',
    not_a_license: 'This service is not a license.',
    internal_error: 'The server failed. Try again later; if it persists, contact your provider.',
    network_error: 'The server cannot be reached. Check your connection and try again.',
    copy_failed: 'The browser did not allow copying. Select the key and copy it by hand.',
    // — order —
    service_param_required: 'This field is required.',
    invalid_ip: 'This is not an IPv4 or IPv6 address.',
    invalid_hostname:
      'This is not a host name (letters, digits, hyphens and dots, e.g. server1.example.com).',
    service_param_too_long: 'This is too long (255 characters at most).',
    ip_taken: 'A license for this address already exists.',
    insufficient_balance: 'Your balance does not cover this order. Top it up, or order now and pay later.',
    tariff_not_orderable: 'This tariff can no longer be ordered.',
    tariff_expired: 'This tariff can no longer be ordered.',
    period_not_offered: 'This period is not offered by the tariff.',
    enumeration_value_not_offered: 'This option is no longer offered. Choose another.',
    addon_value_out_of_range: 'An option is outside its allowed range.',
    addon_value_not_on_step: 'An option is not a whole number of its steps.',
    account_not_active: 'Your account is not active. Contact your provider.',
  } as Record<string, string>,
  unknownError: (code: string) => `The request was refused (${code}). Try again or contact your provider.`,
  // — order —
  navOrder: 'Order',
  orderTitle: 'Order a service',
  orderNothing: 'Nothing can be ordered right now.',
  orderSteps: {
    product: 'Product',
    tariff: 'Tariff',
    options: 'Period and options',
    params: 'Parameters',
    quote: 'Price and payment',
  } as Record<string, string>,
  orderChooseProduct: 'What would you like to order?',
  orderChooseTariff: 'Choose a tariff',
  orderFrom: (price: string, currency: string, period: number) =>
    period === -100
      ? `trial: ${price} ${currency}`
      : `${price} ${currency} for ${period === 1 ? '1 month' : `${period} months`}`,
  orderSetupFee: (fee: string, currency: string) => `setup fee ${fee} ${currency}`,
  orderTariffEnds: (date: string) => `can be ordered until ${date}`,
  orderTrial: (days: number) => `Trial, ${days} days`,
  orderNotForPeriod: 'not offered for this period',
  orderIncluded: 'included',
  orderAddonIncluded: (n: number, unit: string) => (unit ? `${n} ${unit} included` : `${n} included`),
  orderAddonUnitPrice: (price: string, unit: string) => `${price} per ${unit || 'unit'} above that`,
  orderNoParams: 'This product needs no parameters.',
  orderParam: {
    hostname: 'Host name',
    ip: 'IP address',
    os_template: 'Operating system',
    licname: 'License name',
  } as Record<string, string>,
  orderParamHint: {
    hostname: 'For example server1.example.com',
    ip: 'The address the license is bound to, e.g. 203.0.113.10',
    os_template: 'For example Ubuntu 22.04',
  } as Record<string, string>,
  orderBack: 'Back',
  orderNext: 'Next',
  orderQuote: 'Price',
  orderFromTo: (start: string, end: string) => `from ${start} to ${end}`,
  orderCutTitle: 'The tariff ends before the period does',
  orderCutText: (end: string, naturalEnd: string, granted: number, full: number) =>
    `The service runs until ${end} instead of ${naturalEnd}: you pay for ${granted} of ${full} days.`,
  orderCutLine: (granted: number, full: number, amount: string, fullAmount: string) =>
    `${granted} of ${full} days, ${amount} (full period ${fullAmount})`,
  orderTotal: 'Total',
  orderPayNow: (total: string) => `Pay ${total} from balance`,
  orderPayLater: 'Order, pay later',
  orderBalance: (balance: string) => `Your balance: ${balance}.`,
  orderPaid: (id: number) => `Order ${id} is paid; your service is being set up.`,
  orderPlacedTitle: (id: number) => `Order ${id} is awaiting payment`,
  orderPlacedText: (total: string) =>
    `It is paid from your balance, ${total}, as soon as the balance covers it; the service is set up then.`,
};

type Messages = typeof en;

const ru: Messages = {
  appName: 'Billfold',
  signIn: 'Войти',
  signInTitle: 'Вход в личный кабинет',
  email: 'Эл. почта',
  password: 'Пароль',
  signOut: 'Выйти',
  signedOut: 'Вы вышли из кабинета.',
  language: 'Язык',
  navServices: 'Услуги',
  mainNavigation: 'Основное меню',
  openNavigation: 'Открыть меню',
  services: 'Услуги',
  service: 'Услуга',
  status: 'Состояние',
  expires: 'Действует до',
  ip: 'IP-адрес',
  noServices: 'У вас пока нет услуг.',
  loading: 'Загрузка…',
  retry: 'Повторить',
  newer: 'Новее',
  older: 'Старше',
  back: 'Все услуги',
  licenseKey: 'Лицензионный ключ',
  copy: 'Копировать',
  copied: 'Скопировано',
  keyCopied: 'Лицензионный ключ скопирован в буфер обмена.',
  keyBeingIssued: 'Ключ выпускается; он появится здесь, когда будет готов.',
  noLicense: 'У этой услуги нет лицензионного ключа.',
  operations: 'Операции',
  noOperations: 'Сейчас ничего не выполняется.',
  operation: 'Операция',
  started: 'Начата',
  period: 'Период',
  months: (n: number) => `${n} мес.`,
  autoRenew: 'Автопродление',
  off: 'выключено',
  notFoundTitle: 'Не найдено',
  notFoundText: 'Такой страницы нет, или она принадлежит другому клиенту.',
  toServices: 'К вашим услугам',
  somethingWrong: 'Что-то пошло не так',
  never: '—',
  serviceStatus: {
    ordered: 'заказана',
    processing: 'подключается',
    active: 'активна',
    suspended: 'приостановлена',
    deleted: 'удалена',
  },
  opKind: {
    open: 'Подключение',
    prolong: 'Продление',
    suspend: 'Приостановка',
    resume: 'Возобновление',
    close: 'Удаление',
    set_param: 'Изменение',
  },
  opState: {
    being_set_up: 'подключается',
    in_progress: 'выполняется',
    retrying: 'повтор после временной ошибки',
    waiting_for_staff: 'ждёт сотрудника',
    done: 'выполнена',
    failed: 'не удалась',
    cancelled: 'отменена',
  },
  errors: {
    invalid_credentials: 'Неверная почта или пароль. Проверьте их и попробуйте снова.',
    too_many_login_attempts: 'Слишком много попыток входа. Подождите несколько минут и попробуйте снова.',
    unauthenticated: 'Сеанс завершён. Войдите снова.',
    csrf_token_invalid: 'Сеанс устарел. Обновите страницу и повторите действие.',
    forbidden: 'Это действие вам недоступно. Обратитесь к провайдеру, если оно нужно.',
    service_not_found: 'В вашем кабинете нет такой услуги.',
    validation_failed: 'Некоторые поля заполнены неверно. Проверьте их и попробуйте снова.',
    not_a_license: 'Эта услуга не является лицензией.',
    internal_error: 'Ошибка на сервере. Попробуйте позже; если повторяется, обратитесь к провайдеру.',
    network_error: 'Сервер недоступен. Проверьте подключение и попробуйте снова.',
    copy_failed: 'Браузер не разрешил копирование. Выделите ключ и скопируйте его вручную.',
    // — order —
    service_param_required: 'Это поле обязательно.',
    invalid_ip: 'Это не IPv4- или IPv6-адрес.',
    invalid_hostname: 'Это не имя хоста (буквы, цифры, дефисы и точки, например server1.example.com).',
    service_param_too_long: 'Слишком длинно (не более 255 символов).',
    ip_taken: 'Лицензия для этого адреса уже есть.',
    insufficient_balance:
      'На балансе не хватает средств. Пополните его или закажите сейчас и оплатите позже.',
    tariff_not_orderable: 'Этот тариф больше нельзя заказать.',
    tariff_expired: 'Этот тариф больше нельзя заказать.',
    period_not_offered: 'Тариф не предлагает этот период.',
    enumeration_value_not_offered: 'Этот вариант больше не предлагается. Выберите другой.',
    addon_value_out_of_range: 'Значение опции вне допустимого диапазона.',
    addon_value_not_on_step: 'Значение опции не кратно её шагу.',
    account_not_active: 'Ваш аккаунт не активен. Обратитесь к провайдеру.',
  },
  unknownError: (code: string) => `Запрос отклонён (${code}). Попробуйте снова или обратитесь к провайдеру.`,
  // — order —
  navOrder: 'Заказать',
  orderTitle: 'Заказ услуги',
  orderNothing: 'Сейчас нечего заказать.',
  orderSteps: {
    product: 'Продукт',
    tariff: 'Тариф',
    options: 'Период и опции',
    params: 'Параметры',
    quote: 'Цена и оплата',
  },
  orderChooseProduct: 'Что вы хотите заказать?',
  orderChooseTariff: 'Выберите тариф',
  orderFrom: (price: string, currency: string, period: number) =>
    period === -100 ? `пробный: ${price} ${currency}` : `${price} ${currency} за ${period} мес.`,
  orderSetupFee: (fee: string, currency: string) => `подключение ${fee} ${currency}`,
  orderTariffEnds: (date: string) => `можно заказать до ${date}`,
  orderTrial: (days: number) => `Пробный период, ${days} дн.`,
  orderNotForPeriod: 'не предлагается на этот период',
  orderIncluded: 'включено',
  orderAddonIncluded: (n: number, unit: string) => `${n} ${unit} включено`,
  orderAddonUnitPrice: (price: string, unit: string) => `${price} за ${unit || 'единицу'} сверх этого`,
  orderNoParams: 'Для этого продукта параметры не нужны.',
  orderParam: {
    hostname: 'Имя хоста',
    ip: 'IP-адрес',
    os_template: 'Операционная система',
    licname: 'Имя лицензии',
  },
  orderParamHint: {
    hostname: 'Например, server1.example.com',
    ip: 'Адрес, к которому привязана лицензия, например 203.0.113.10',
    os_template: 'Например, Ubuntu 22.04',
  },
  orderBack: 'Назад',
  orderNext: 'Далее',
  orderQuote: 'Цена',
  orderFromTo: (start: string, end: string) => `с ${start} по ${end}`,
  orderCutTitle: 'Тариф заканчивается раньше периода',
  orderCutText: (end: string, naturalEnd: string, granted: number, full: number) =>
    `Услуга действует до ${end} вместо ${naturalEnd}: вы платите за ${granted} из ${full} дн.`,
  orderCutLine: (granted: number, full: number, amount: string, fullAmount: string) =>
    `${granted} из ${full} дн., ${amount} (полный период ${fullAmount})`,
  orderTotal: 'Итого',
  orderPayNow: (total: string) => `Оплатить ${total} с баланса`,
  orderPayLater: 'Заказать, оплатить позже',
  orderBalance: (balance: string) => `Ваш баланс: ${balance}.`,
  orderPaid: (id: number) => `Заказ ${id} оплачен; услуга подключается.`,
  orderPlacedTitle: (id: number) => `Заказ ${id} ожидает оплаты`,
  orderPlacedText: (total: string) =>
    `Он будет оплачен с баланса (${total}), как только средств хватит; тогда же услуга будет подключена.`,
};

export const MESSAGES: Record<Lang, Messages> = { en, ru };

const STORED = 'billfold.lang';

/** The language chosen with the switch, else the browser's (Russian when it prefers it). */
function initialLang(): Lang {
  const stored = window.localStorage.getItem(STORED);
  if (stored === 'en' || stored === 'ru') return stored;
  return window.navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

const I18n = createContext<{ lang: Lang; t: Messages; setLang: (l: Lang) => void } | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (l: Lang) => {
    window.localStorage.setItem(STORED, l);
    document.documentElement.lang = l;
    setLangState(l);
  };
  return <I18n.Provider value={{ lang, t: MESSAGES[lang], setLang }}>{children}</I18n.Provider>;
}

export function useI18n() {
  const v = useContext(I18n);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}

/** What to tell the user about a refused request: the sentence for its code, or a generic one naming it. */
export const errorSentence = (t: Messages, code: string): string => t.errors[code] ?? t.unknownError(code);
